// Marks nodes Marble cannot run in litegraph's node search, with the reason ("ControlNet: not yet"),
// so a ComfyUI user sees why before adding one. litegraph builds the result list itself; a
// MutationObserver decorates each result as it appears (textContent only, no markup).
import { UNSUPPORTED_NODES } from '../../workflow/catalog/support';

export function markUnsupportedInSearch(root: Node = document.body): MutationObserver {
  const mark = (el: Element) => {
    if (!(el instanceof HTMLElement) || !el.classList.contains('lite-search-item') || el.classList.contains('marble-unsupported')) return;
    const type = unescape(el.dataset.type ?? '');
    const reason = Object.prototype.hasOwnProperty.call(UNSUPPORTED_NODES, type) ? UNSUPPORTED_NODES[type] : undefined;
    if (!reason) return;
    el.classList.add('marble-unsupported');
    el.title = `Marble cannot run this node: ${reason}`;
    const span = document.createElement('span');
    span.className = 'marble-unsupported-reason';
    span.textContent = reason;
    el.append(span);
  };
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (!(n instanceof Element)) continue;
        mark(n);
        n.querySelectorAll('.lite-search-item').forEach(mark);
      }
    }
  });
  observer.observe(root, { childList: true, subtree: true });
  return observer;
}
