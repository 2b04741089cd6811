"""The page's own style and script, passed to launch() by app.py (Gradio 6 takes css/head there)."""

from __future__ import annotations

FRAME_GALLERIES = ("#sequence-gallery", "#history-gallery", '[id^="compare-gallery-"]')


def _every(rule: str) -> str:
    """`rule` (a selector suffix and a block) for every gallery of frames, each scoped by its id so
    Gradio's other galleries keep their look."""
    suffix, block = rule.split("{", 1)
    return ", ".join(f"{g}{suffix.rstrip()}" for g in FRAME_GALLERIES) + " {" + block


GALLERY_CSS = "\n".join(
    _every(rule)
    for rule in (
        # Gradio caps a gallery at 55vh (row 3 of 15 frames was cut, row 4 hidden behind an inner scroll)
        " .fixed-height {max-height: none !important; min-height: 0 !important}",
        # the caption under its frame, whole: over the frame it hid the frame's own caption strip
        " .thumbnail-item {height: auto !important; aspect-ratio: auto !important; overflow: visible !important;"
        " display: flex; flex-direction: column}",
        " .thumbnail-item img {aspect-ratio: 1 / 1; height: auto !important}",
        " .caption-label {position: static !important; max-width: 100% !important; white-space: normal !important;"
        " opacity: 1; border: 0; background: none; padding: 2px 0 0 0; text-overflow: clip}",
    )
)

CSS = (
    GALLERY_CSS
    + """
/* Gradio sets overflow: hidden on the container, which turns position: sticky off */
.gradio-container {overflow: clip !important}
/* Generate, Cancel and the estimate stay in view at the bottom of the screen */
.pg-action-bar {position: sticky !important; bottom: 0; z-index: 100; padding: 6px 0 4px 0;
  background: var(--background-fill-primary) !important; box-shadow: 0 -6px 8px -6px rgba(0, 0, 0, 0.15)}
/* frames arriving above the form must not scroll the page down to keep the form in place */
body {overflow-anchor: none}
@media (min-width: 641px) {
  /* the newest result stays in view beside the form */
  .column.pg-results {position: sticky !important; top: 8px; align-self: flex-start !important}
  /* a fixed number of columns: with growing tiles, two frames filled the whole width */
  #sequence-gallery .grid-container {grid-template-columns: repeat(4, minmax(0, 1fr)) !important}
  #history-gallery .grid-container {grid-template-columns: repeat(5, minmax(0, 1fr)) !important}
  [id^="compare-gallery-"] .grid-container {grid-template-columns: repeat(6, minmax(0, 1fr)) !important}
}
.run-summary {font-variant-numeric: tabular-nums}
/* the tables' monospace font cut every header and number at 1400 px: the UI font, a size smaller */
:is(#history-table, #analysis-table, #analysis-consistency, #arena-leaderboard) :is(th, th .text, .virtual-row, .virtual-row .text) {
  font-family: var(--font); font-size: 13px; font-variant-numeric: tabular-nums}
/* the close look's hidden frame lists beside the galleries (ui/closelook.py) take no room */
#history-look, #sequence-look {display: none !important}
/* History's thumbnails: the first frame's 640 px preview drawn row-sized */
#history-table :is(td, .body-cell) img {height: 40px; width: 40px; object-fit: cover; border-radius: 3px; margin: 0; display: block}
#run-progress {font-variant-numeric: tabular-nums}
#run-progress .bar {letter-spacing: 1px}
@media (max-width: 640px) {
  #banner {font-size: 0.9em}
  .pg-results {order: -1}  /* frames first on a phone: the form and its action bar follow */
  .gradio-container {padding-left: 6px !important; padding-right: 6px !important}
  /* Gradio's grid keeps 100 px per column: 4 or 5 columns overflow a phone */
  """
    + _every(" .grid-container {grid-template-columns: repeat(2, minmax(0, 1fr)) !important}")
    + """
  /* the cost plot's SVG scales to its box (640 units into ~350 px): its 12-unit text would be 7 px
     (the caption names the y axis: its rotated title makes way for the larger ticks) */
  #analysis-cost-plot svg text {font-size: 24px}
  /* the Arena's panes stack: a 4-frame story in one row of each (Gradio's grid wrapped it 3+1) */
  #arena-left .grid-container, #arena-right .grid-container {grid-template-columns: repeat(4, minmax(0, 1fr)) !important}
  /* and each pane as tall as its one row of frames (the gallery kept 240 px, mostly empty) */
  #arena-left, #arena-right, :is(#arena-left, #arena-right) .grid-wrap {height: auto !important}
  #analysis-cost-plot svg .y-title {display: none}
  /* six filters fill three rows: the refused checkbox takes a row of its own (it was squeezed to a sliver) */
  #history-show-refused {flex: 1 1 100% !important; min-width: 100% !important}
}
"""
)
# Ctrl+Enter (Cmd+Enter on a Mac) in any field of the Generate form starts a run; Gradio's own
# Shift+Enter submit of the multi-line Prompt stays too.
HEAD = r"""
<script>
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  const form = event.target.closest && event.target.closest("#generate-form");
  const button = document.querySelector("#generate-button");
  if (form && button) { event.preventDefault(); button.click(); }
});
// Accessible names Gradio 6.31 leaves out or blurs: a radio group is a <fieldset> whose label is a
// <span> (no name at all); a field's info line is part of its <label> (the name "Prompt" became
// "Prompt Shift+Enter or ..."); a file drop zone and its input are "Click to upload" / "File upload".
function nameControls() {
  const text = (el) => el.textContent.replace(/\s+/g, " ").trim();
  for (const group of document.querySelectorAll("fieldset")) {
    const label = group.querySelector('[data-testid="block-info"]');
    if (label && group.querySelector("input[type=radio]")) {
      group.setAttribute("role", "radiogroup");
      group.setAttribute("aria-label", text(label));
    }
  }
  document.querySelectorAll("label .info-text").forEach((info, i) => {
    const box = info.closest("label"), label = box.querySelector('[data-testid="block-info"]');
    const control = box.querySelector("textarea, input");
    if (!label || !control) return;
    info.id = info.id || `field-info-${i}`;
    control.setAttribute("aria-label", text(label));
    control.setAttribute("aria-describedby", info.id);
  });
  for (const label of document.querySelectorAll('label[data-testid="block-label"]')) {
    const input = label.parentElement.querySelector("input[type=file]");
    if (!input) continue;
    input.setAttribute("aria-label", text(label));
    const zone = label.parentElement.querySelector("button.upload-container");
    if (zone) zone.setAttribute("aria-label", `${text(label)}: click to upload or drop files`);
  }
}
let naming = 0;  // one pass per animation frame, however many nodes Gradio adds
new MutationObserver(() => { naming = naming || requestAnimationFrame(() => { naming = 0; nameControls(); }); })
  .observe(document.documentElement, {childList: true, subtree: true});
</script>
"""
