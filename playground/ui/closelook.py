"""The close look: click a frame in the grid, or in the Generate or History gallery, to see it at full resolution (the original bytes,
not the 640 px preview), beside the same frame of another arm of that row, stepping both runs
frame by frame together. All in the browser (the grid carries each frame's original URL), so
stepping makes no round trip. Text from the page is set with textContent only (never parsed
as HTML): captions and arm names are stranger-controlled on a Space.

Keys while it is open: ← → step both runs, Home / End, 1-9 jump to a frame, z fit / 100 %,
Esc closes (focus goes back to the frame that opened it). Keys typed into a field are left alone.
"""

from __future__ import annotations

# In the page's <head> (app.py): the viewer and its keys, once for the page, so every place that
# opens it (the grid, the Generate and History galleries) shares one overlay and one key listener.
CLOSE_LOOK_HEAD = r"""
<script>
(() => {
const look = {cells: [], left: 0, right: -1, frame: 1, fit: true, opener: null, node: null};
const frameNumbers = () => {
  const numbers = new Set();
  for (const i of [look.left, look.right]) if (i >= 0) look.cells[i].frames.forEach((f) => numbers.add(f.number));
  return [...numbers].sort((a, b) => a - b);
};
const last = () => Math.max(1, ...frameNumbers());
const cellOf = (node) => ({arm: node.dataset.arm || "", run: node.dataset.runId || "",
  frames: [...node.querySelectorAll("img[data-original]")].map((img) => (
    {number: Number(img.dataset.frame), src: img.dataset.original, caption: img.alt || ""}))});
const make = (tag, style, text) => {
  const node = document.createElement(tag);
  if (style) node.style.cssText = style;
  if (text !== undefined) node.textContent = text;
  return node;
};
function closeLook() {
  if (!look.node) return;
  look.node.remove();
  look.node = null;
  if (look.opener && look.opener.focus) look.opener.focus();
}
function render() {
  const n = last();
  look.node.querySelectorAll("[data-side]").forEach((pane) => {
    const index = pane.dataset.side === "A" ? look.left : look.right;
    pane.style.display = index < 0 ? "none" : "flex";
    if (index < 0) return;
    const cell = look.cells[index];
    const frame = cell.frames.find((f) => f.number === look.frame);
    const img = pane.querySelector("img"), label = pane.querySelector(".look-label");
    const caption = pane.querySelector(".look-caption"), box = pane.querySelector(".look-box");
    box.style.overflow = look.fit ? "hidden" : "auto";
    img.style.cssText = look.fit ? "max-width:100%;max-height:100%;object-fit:contain" : "max-width:none;max-height:none";
    if (frame) {
      img.style.visibility = "visible";
      if (img.getAttribute("src") !== frame.src) img.src = frame.src;
      img.alt = frame.caption;
      caption.textContent = frame.caption;
    } else {
      img.style.visibility = "hidden";
      img.removeAttribute("src");
      caption.textContent = `frame ${look.frame}: not returned`;
    }
    const size = frame && img.complete && img.naturalWidth ? ` · ${img.naturalWidth}×${img.naturalHeight}` : "";
    label.textContent = `${pane.dataset.side} · ${cell.arm} · frame ${look.frame}/${n}${size}`;
  });
  look.node.querySelector(".look-counter").textContent = `frame ${look.frame} of ${n}`;
  look.node.querySelector(".look-fit").textContent = look.fit ? "100 %" : "fit";
}
function step(to) {
  const numbers = frameNumbers();
  look.frame = Math.min(Math.max(to, 1), last());
  if (!numbers.length) look.frame = 1;
  render();
}
function openLook(cells, left, frameNumber, opener) {
  closeLook();
  look.cells = cells;
  look.left = left;
  look.right = look.cells.length > 1 ? (look.left + 1) % look.cells.length : -1;
  look.frame = frameNumber;
  look.fit = true;
  look.opener = opener;
  const overlay = make("div", "position:fixed;inset:0;z-index:1000;background:#0c0c10;color:#f4f4f5;" +
    "display:flex;flex-direction:column;padding:12px;gap:8px;font:14px system-ui,sans-serif");
  overlay.id = "close-look";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-modal", "true");
  overlay.setAttribute("aria-label", "Close look");
  overlay.tabIndex = -1;
  const bar = make("div", "display:flex;flex-wrap:wrap;gap:8px;align-items:center");
  bar.append(make("strong", "", "Close look"));
  const other = make("select", "max-width:60vw;color:#111");
  other.setAttribute("aria-label", "Compare with");
  other.className = "look-other";
  other.append(new Option("no second run", "-1"));
  look.cells.forEach((cell, i) => { if (i !== look.left) other.append(new Option(`B: ${cell.arm}`, String(i))); });
  other.value = String(look.right);
  if (look.cells.length < 2) other.style.display = "none";  // one run (a gallery): nothing to compare with
  other.addEventListener("change", () => { look.right = Number(other.value); step(look.frame); });
  const fit = make("button", "padding:2px 10px", "100 %");
  fit.className = "look-fit";
  fit.addEventListener("click", () => { look.fit = !look.fit; render(); });
  const close = make("button", "margin-left:auto;padding:2px 10px;font-size:18px", "✕");
  close.setAttribute("aria-label", "Close");
  close.className = "look-close";
  close.addEventListener("click", closeLook);
  bar.append(other, fit, close);
  // side by side; stacked on a phone, each pane half the height (both frames in view at once)
  const narrow = window.innerWidth < 640;
  const panes = make("div", `flex:1;display:flex;flex-direction:${narrow ? "column" : "row"};gap:8px;min-height:0`);
  for (const side of ["A", "B"]) {
    const pane = make("figure", "flex:1 1 0;margin:0;display:flex;flex-direction:column;min-height:0;min-width:0");
    pane.dataset.side = side;
    pane.className = "look-pane";
    const label = make("div", "font-weight:600;padding:2px 0");
    label.className = "look-label";
    const box = make("div", "flex:1;min-height:0;display:flex;align-items:center;justify-content:center;background:#000");
    box.className = "look-box";
    const img = make("img");
    img.addEventListener("load", render);
    box.append(img);
    const caption = make("figcaption", "padding:2px 0");
    caption.className = "look-caption";
    pane.append(label, box, caption);
    panes.append(pane);
  }
  const nav = make("div", "display:flex;gap:12px;align-items:center;justify-content:center;flex-wrap:wrap");
  const prev = make("button", "padding:4px 14px", "◀ prev");
  prev.addEventListener("click", () => step(look.frame - 1));
  const next = make("button", "padding:4px 14px", "next ▶");
  next.addEventListener("click", () => step(look.frame + 1));
  const counter = make("span", "font-variant-numeric:tabular-nums");
  counter.className = "look-counter";
  nav.append(prev, counter, next, make("span", "opacity:.7",
    `← → step${look.cells.length > 1 ? " both" : ""} · 1–9 jump · z zoom · Esc close`));
  overlay.append(bar, panes, nav);
  document.body.append(overlay);
  look.node = overlay;
  render();
  overlay.focus();
}
window.pgCloseLook = {open: openLook, cellOf};
const keys = (event) => {
  if (!look.node || event.ctrlKey || event.altKey || event.metaKey) return;
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  const handlers = {ArrowRight: () => step(look.frame + 1), ArrowLeft: () => step(look.frame - 1),
    Home: () => step(1), End: () => step(last()), Escape: closeLook, z: () => { look.fit = !look.fit; render(); }};
  const handler = handlers[event.key] || (/^[1-9]$/.test(event.key) ? () => step(Number(event.key)) : null);
  if (handler) { event.preventDefault(); event.stopPropagation(); handler(); }
};
document.addEventListener("keydown", keys, true);
})();
</script>
"""

# js_on_load of the grid's gr.HTML: a frame's click opens it with the row's arms (A = the cell clicked)
CLOSE_LOOK_JS = r"""
element.addEventListener("click", (event) => {
  const img = event.target.closest && event.target.closest("td img[data-original]");
  if (!img || !window.pgCloseLook) return;
  const td = img.closest("td"), tds = [...td.closest("tr").querySelectorAll("td[data-run-id]")];
  window.pgCloseLook.open(tds.map(window.pgCloseLook.cellOf), tds.indexOf(td), Number(img.dataset.frame), img);
});
"""


def gallery_look_js(gallery_id: str) -> str:
    """js_on_load of the hidden gr.HTML beside a gallery, holding its run's frames as originals
    (present.runs.look_strip): a click on the gallery's i-th thumbnail opens frame i at full size.
    The gallery has allow_preview=False, so Gradio's own preview does not open first."""
    return r"""
const key = "pgLook:GALLERY", first = !window[key];
window[key] = element;  // mounted again: the listener reads the newest strip
if (first) document.addEventListener("click", (event) => {
  const thumb = event.target.closest && event.target.closest("#GALLERY .thumbnail-item");
  const strip = window[key].querySelector(".look-strip");
  if (!thumb || !strip || !window.pgCloseLook) return;
  const index = [...document.querySelectorAll("#GALLERY .thumbnail-item")].indexOf(thumb);
  const img = strip.querySelectorAll("img[data-original]")[index];
  if (!img) return;
  window.pgCloseLook.open([window.pgCloseLook.cellOf(strip)], 0, Number(img.dataset.frame), thumb);
}, true);
""".replace("GALLERY", gallery_id)
