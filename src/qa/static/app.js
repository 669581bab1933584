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
        const details = button.closest("article").querySelector("details.citation");
        details.open = true;
        button.textContent = "Select the citation below to copy it";
      }
      if (status) status.textContent = button.textContent;
    });
  });
  // The document view: bring the cited passage into view and give it focus for screen readers.
  const passage = document.getElementById("passage");
  if (passage && location.hash === "#passage") {
    passage.scrollIntoView({ block: "center" });
    passage.focus({ preventScroll: true });
  }
});
