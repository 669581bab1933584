// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("copy-status");
  document.querySelectorAll("button.copy").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = button.dataset.citation;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Citation copied";
      } catch (err) {
        // Clipboard access can be refused (insecure context, permissions): show it to select.
        const details = button.closest("article, section").querySelector("details.citation");
        details.open = true;
        button.textContent = "Select the citation below to copy it";
      }
      if (status) status.textContent = button.textContent;
    });
  });
  // Wide screens have room for the filters: show them; on a phone they stay folded.
  const filters = document.querySelector("details.filter-panel");
  if (filters && window.matchMedia("(min-width: 641px)").matches) filters.open = true;
  // The document view: the sticky title block's real height is where the passage must start.
  const head = document.querySelector(".doc-head");
  const passage = document.getElementById("passage");
  if (head) {
    document.documentElement.style.setProperty("--head", `${head.offsetHeight + 8}px`);
  }
  if (passage && location.hash === "#passage") {
    passage.scrollIntoView({ block: "start" });
    passage.focus({ preventScroll: true });
  }
});
