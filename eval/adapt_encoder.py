"""Train the encoder's adapter (qa.adapt): a low-rank update of all-MiniLM-L6-v2 that brings
the plans' language and the vocabulary's rewordings nearer each other.

Pairs (query side, passage side), from the corpus and the vocabulary (src/qa/data/synonyms.txt
and QA_SYNONYMS's lines) only, never from questions:
- ict: a sentence of a passage, and the rest of that passage (the inverse cloze task);
- heading: a section heading, and the first passage under it;
- lay: a plan's sentence holding a term of a vocabulary line, that term put in another of the
  line's wordings (a lay one first), and the passage it came from;
- phrase: a vocabulary line's two wordings.
In-batch negatives (the other passages of a batch of 32; a pair whose passage is already in
the batch is left out, about 1%), loss both ways, one pass, AdamW, warm-up over the first
tenth. Only the adapter's matrices train (rank 16 on each query, key, value and dense layer of
the six transformer layers); the packaged weights stay. Seeded (`--seed`; round 6 in
eval/README.md gives a second seed's figures).

Other recipes, tried in round 7 and not shipped (eval/README.md): `--hard-negatives` (a
passage BM25 ranks high for each query side, beside its own), `--lay N` (N reworded plan
sentences a vocabulary line), `--passes N`, and `--average` (adapters of other seeds made
one). With no option the script reproduces the shipped adapter.

    PYTHONPATH=src python eval/adapt_encoder.py [--out src/qa/data/adapter.npz]

About 14 minutes on two cores, from a source checkout (eval/ is not in the wheel). Then
rebuild the index (`qa build`; `qa serve` does it by itself, the encoder's fingerprint having
changed) and re-run eval/cv.py. An adapter written elsewhere (`--out`) is used with
QA_ADAPTER=FILE.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qa.bm25 import query_terms, words  # noqa: E402
from qa.chunk import SECTION_SEP  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import packaged_model_dir  # noqa: E402
from qa.sentences import sentence_spans  # noqa: E402
from qa.store.index import Index, indexed_text  # noqa: E402
from qa.synonyms import Synonyms, tokens  # noqa: E402

SEED = 13
BATCH = 32
RANK = 16
SCALE = 2.0  # the update's weight: LoRA's alpha / rank
LAYERS = ("query", "key", "value", "dense")


def passage_pairs(index: Index, texts: list[str], vocabulary: Synonyms, rng: random.Random,
                  lay: int = 1) -> list[tuple[str, int, str]]:
    """(query side, passage row, passage side) from the corpus (`texts`: passage_texts) and
    the vocabulary."""
    pairs = []
    for i, p in enumerate(index.passages):
        long = [p.text[a:b] for a, b in sentence_spans(p.text) if len(p.text[a:b].split()) >= 6]
        for s in rng.sample(long, min(2, len(long))):
            pairs.append((s, i, texts[i].replace(s, " ")))
    headings = set()
    for i, p in enumerate(index.passages):
        h = (p.section or "").split(SECTION_SEP)[-1].strip()
        if len(h.split()) >= 2 and h.lower() not in headings:
            headings.add(h.lower())
            pairs.append((h, i, texts[i]))
    toks = [tokens(t) for t in texts]
    terms = [tuple(w for _, _, w in tk) for tk in toks]
    swaps = [pair for _ in range(lay) for pair in vocabulary_pairs(vocabulary, rng)]
    for source, target in swaps:
        key, n = target[1], len(target[1])
        where = [(i, j) for i, w in enumerate(terms)
                 for j in [next((j for j in range(len(w) - n + 1) if w[j:j + n] == key), -1)]
                 if j >= 0]
        if not where:
            continue
        i, j = rng.choice(where)
        a, b = toks[i][j][0], toks[i][j + n - 1][1]
        for sa, sb in sentence_spans(texts[i]):
            if sa <= a < sb:
                pairs.append(((texts[i][sa:a] + source[0] + texts[i][b:sb]).strip(), i, texts[i]))
                break
    return pairs


def passage_texts(index: Index) -> list[str]:
    """Each passage as the encoder indexes it, less the document's title (the same in every
    passage of a document, it would make any two of them alike)."""
    return [indexed_text(p, index.doc_by_id[p.doc_id], title=False) for p in index.passages]


def hard_negatives(index: Index, pairs: list[tuple[str, int, str]],
                   rng: random.Random) -> list[int]:
    """For each passage pair, a passage BM25 ranks high for its query side that is not its
    passage nor a near copy of it (-1 when there is none): a harder negative than a batch's
    random others. The plans repeat one another's text, so a candidate whose words overlap the
    pair's passage's by more than half (shared over either's, Jaccard), or that holds the query
    side whole, is passed over. Not caught: a heading's other passages under it, and a passage
    repeating the original of a reworded sentence; both answer too."""
    bags = [frozenset(words(p.text)) for p in index.passages]
    low = [p.text.lower() for p in index.passages]
    out = []
    for query, row, _ in pairs:
        q = query.lower().strip()
        out.append(bm25_negative(
            index, query, rng, 40,
            lambda j: j != row and q not in low[j]
            and len(bags[j] & bags[row]) <= 0.5 * max(1, len(bags[j] | bags[row]))))
    return out


def bm25_negative(index: Index, query: str, rng: random.Random, depth: int, fits) -> int:
    """One of the first ten passages that fit(row) among BM25's `depth` best for the query,
    drawn; -1 when none fits."""
    order = np.argsort(-index.bm25.scores(query_terms(query)))[:depth]
    fit = [int(j) for j in order if fits(int(j))][:10]
    return rng.choice(fit) if fit else -1


def vocabulary_pairs(vocabulary: Synonyms, rng: random.Random) -> list[tuple]:
    """One (lay term, plan term) a vocabulary line, each (wording, key)."""
    out = []
    for sources, targets in vocabulary.rules:
        target = rng.choice(targets)
        source = rng.choice([s for s in sources if s[1] != target[1]] or sources)
        if source[1] != target[1]:
            out.append((source, target))
    return out


def train(items: list[tuple[str, str, int, str | None, int]], rng: random.Random, lr: float,
          seed: int, passes: int, start: str | None = None):
    """The adapter's matrices trained on (query side, passage side, passage row, negative
    passage or None, its row) items; from zero, or from the adapter file `start`."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    for p in model.parameters():
        p.requires_grad_(False)
    bert = model[0].auto_model
    adapters = {}
    for name, module in list(bert.named_modules()):
        for child in LAYERS:
            linear = getattr(module, child, None)
            if isinstance(linear, torch.nn.Linear) and name.startswith("encoder.layer"):
                adapters[f"{name}.{child}"] = lora = low_rank(linear, seed + len(adapters))
                setattr(module, child, lora)
    if start:
        with np.load(start) as z, torch.no_grad():
            if float(z["scale"]) != SCALE or z[next(iter(adapters)) + ".A"].shape[0] != RANK:
                raise SystemExit(f"{start}: not an adapter of rank {RANK} at scale {SCALE}, "
                                 "the only kind training can go on from")
            for name, a in adapters.items():
                a.A.copy_(torch.from_numpy(z[name + ".A"].astype(np.float32)))
                a.B.copy_(torch.from_numpy(z[name + ".B"].astype(np.float32)))
    params = [p for a in adapters.values() for p in (a.A, a.B)]
    schedule = [b for _ in range(passes) for b in batches(items, rng)]
    # Training on from an adapter ends at a learning rate of 0. From zero, the schedule is as
    # long as round 6 set it (a step beyond its batches), so that its adapter is made again
    # to the byte.
    steps = len(schedule) if start else passes * (len(items) // BATCH)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))

    def embed(texts):
        out = model(model.tokenize(texts))["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    model.train()
    t0 = time.time()
    for step, batch in enumerate(schedule, 1):
        rows = {b[2] for b in batch}
        # A negative that is another pair's passage in this batch would be a positive too.
        negatives = [b[3] for b in batch if b[3] is not None and b[4] not in rows]
        queries = embed([b[0] for b in batch])
        passages = embed([b[1] for b in batch] + negatives)
        sims = queries @ passages.T * 20.0
        labels = torch.arange(len(batch))
        loss = (torch.nn.functional.cross_entropy(sims, labels)
                + torch.nn.functional.cross_entropy(sims[:, :len(batch)].T, labels)) / 2
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 20 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f} s",
                  flush=True)
    return adapters


def batches(items, rng):
    """Shuffled batches in which no passage appears twice (it would be its own negative)."""
    items = items[:]
    rng.shuffle(items)
    out, cur, rows = [], [], set()
    for it in items:
        if it[2] >= 0 and it[2] in rows:
            continue
        cur.append(it)
        rows.add(it[2])
        if len(cur) == BATCH:
            out.append(cur)
            cur, rows = [], set()
    return out


def low_rank(linear, seed: int):
    """The linear layer with a trainable low-rank update beside it, zero to begin with."""
    import torch

    class Adapted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = linear
            g = torch.Generator().manual_seed(seed)
            self.A = torch.nn.Parameter(
                torch.randn(RANK, linear.in_features, generator=g) / linear.in_features ** 0.5)
            self.B = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))

        def forward(self, x):
            return self.base(x) + (x @ self.A.T @ self.B.T) * SCALE

    return Adapted()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = str(ROOT / "src" / "qa" / "data" / "adapter.npz")
    ap.add_argument("--out", default=shipped, help="where to write the adapter (default: the "
                    "shipped one, which only the default recipe may replace)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--passes", type=int, default=1, help="passes over the pairs, each "
                    "shuffled anew")
    ap.add_argument("--lay", type=int, default=1, help="plan sentences reworded per "
                    "vocabulary line (each a fresh draw of wordings and place)")
    ap.add_argument("--hard-negatives", action="store_true", help="a BM25-mined negative "
                    "beside each passage pair's passage")
    ap.add_argument("--seed", type=int, default=SEED, help="another seed: how much the gain "
                    "depends on the draw of pairs, batches and starting matrices")
    ap.add_argument("--average", nargs="+", metavar="ADAPTER", help="train nothing: write "
                    "the mean of these adapters' updates (their ranks added up)")
    args = ap.parse_args(argv)
    other = args.average or args.hard_negatives or args.lay != 1 or args.passes != 1
    if other and args.out == shipped:
        ap.error("another recipe than the shipped one's needs --out: the shipped adapter is "
                 "what its figures are of")
    if args.average:
        np.savez(args.out, **average(args.average))
        print("wrote", args.out)
        return 0
    import torch

    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    settings = Settings.from_env()
    index = Index.load(settings.index_dir)
    vocabulary = Synonyms.load(settings.synonyms)  # the shipped lines and QA_SYNONYMS's
    texts = passage_texts(index)
    pairs = passage_pairs(index, texts, vocabulary, rng, args.lay)
    phrases = [(s[0], t[0], -1 - k)
               for k, (s, t) in enumerate(vocabulary_pairs(vocabulary, rng))]
    negatives = (hard_negatives(index, pairs, rng) if args.hard_negatives
                 else [-1] * len(pairs))
    items = [(q, p, i, texts[n] if n >= 0 else None, n)
             for (q, i, p), n in zip(pairs, negatives)]
    items += [(s, t, k, None, -1) for s, t, k in phrases]
    print(f"{len(pairs)} passage pairs, {len(phrases)} phrase pairs", flush=True)
    save(train(items, rng, args.lr, args.seed, args.passes), args.out)
    return 0


def average(paths: list[str]) -> dict[str, np.ndarray]:
    """One adapter whose update is the mean of these (trained with other seeds, say): B A
    averaged is [B1 ... Bn] / n stacked over [A1 ... An], exactly, at n times the rank."""
    files = []
    for path in paths:
        with np.load(path) as z:
            files.append(dict(z))
    if len({float(z["scale"]) for z in files}) != 1:
        raise SystemExit("the adapters were trained at different scales")
    out = {"scale": files[0]["scale"]}
    for name in (k for k in files[0] if k.endswith(".A")):
        out[name] = np.concatenate([z[name] for z in files])
        b = name[:-2] + ".B"
        out[b] = (np.concatenate([z[b].astype(np.float32) for z in files], 1)
                  / len(files)).astype(np.float16)
    return out


def save(adapters, out: str) -> None:
    arrays = {"scale": np.float32(SCALE)}
    for name, a in adapters.items():
        arrays[name + ".A"] = a.A.detach().numpy().astype(np.float16)
        arrays[name + ".B"] = a.B.detach().numpy().astype(np.float16)
    np.savez(out, **arrays)
    print("wrote", out)


if __name__ == "__main__":
    raise SystemExit(main())
