// The litegraph canvas as a view of the workflow document. The document (host side) is the model:
// every user gesture ends in at most one `edit` carrying the whole re-serialised workflow, and an
// incoming `update` replaces the graph unless it is the echo of our own edit.
//
// Change detection is by comparison, not by enumerating gestures: after anything that may have
// changed the graph (pointer released, key released, widget callback, litegraph change hooks) the
// graph is serialised and compared with the last known document state. That catches every
// gesture litegraph offers (menus, paste, groups, collapse, mode) and never fires mid-drag.

import { LiteGraph, LGraph, LGraphCanvas, LGraphEventMode, type LGraphNode } from '@comfyorg/litegraph';
import { applyPostLoadPatches } from './nodeTypes';

export interface ViewState { offset: [number, number]; scale: number }

export interface GraphEditorCallbacks {
  /** A user change: `workflow` is a plain JSON object (no typed arrays). */
  onEdit(workflow: Record<string, unknown>, label: string): void;
  onViewChanged(view: ViewState): void;
}

/** JSON-safe deep copy: litegraph keeps pos/size as Float32Array, which JSON would turn into objects. */
export function toPlainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float32Array) : v)));
}

export class GraphEditor {
  readonly graph = new LGraph();
  readonly canvas: LGraphCanvas;
  /** JSON of the document state the graph currently shows (after load patches / our last edit). */
  private baseline: string | undefined;
  private lastSent: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pendingLabel: string | undefined;
  private pointerDown = false;
  private loaded = false;
  private loading = false;

  constructor(private readonly el: HTMLCanvasElement, private readonly cb: GraphEditorCallbacks) {
    // The viewport is view state (kept in webview state), never written into the document.
    LiteGraph.saveViewportWithGraph = false;
    el.tabIndex = 0;
    this.canvas = new LGraphCanvas(el, this.graph);
    this.canvas.show_info = false;
    // litegraph outlines the canvas size in graph space, a stray box once the view is zoomed.
    this.canvas.render_canvas_border = false;
    // litegraph drops titles and widget text below 0.6; ComfyUI's SDXL example fitted into a
    // 1400×900 editor sits at 0.42, where titles still read, so keep them drawn down to 0.4.
    this.canvas.low_quality_zoom_threshold = 0.4;
    this.hookChanges();
  }

  /** Sizes the canvas backing store to CSS size × devicePixelRatio (else HiDPI draws into a quarter). */
  resize(width: number, height: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.el.style.width = `${width}px`;
    this.el.style.height = `${height}px`;
    this.el.width = Math.max(1, Math.round(width * dpr));
    this.el.height = Math.max(1, Math.round(height * dpr));
    this.el.getContext('2d')?.scale(dpr, dpr);
    this.canvas.draw(true, true);
  }

  /** Replaces the graph with `workflow`. Throws with litegraph's message when it cannot be configured. */
  load(workflow: Record<string, unknown>, view?: ViewState): { missingTypes: string[] } {
    this.cancelPending();
    const keep = view ?? (this.loaded ? this.view() : undefined);
    this.loading = true;
    try {
      this.graph.configure(workflow as never);
      applyPostLoadPatches(this.graph.nodes);
    } finally {
      this.loading = false;
    }
    const ds = (workflow.extra as { ds?: ViewState } | undefined)?.ds;
    const target = keep ?? (ds && Array.isArray(ds.offset) && typeof ds.scale === 'number' ? ds : undefined);
    if (target) this.setView(target);
    // First open without a remembered view: a graph cut off at the file's viewport is zoomed out
    // to fit, so the whole workflow is on screen (the view is not written into the document).
    if (!keep) this.fitIfClipped();
    this.loaded = true;
    this.baseline = JSON.stringify(this.serialize());
    this.canvas.setDirty(true, true);
    const missingTypes = this.graph.nodes.filter((n) => !LiteGraph.registered_node_types[n.type ?? '']).map((n) => String(n.type));
    return { missingTypes: [...new Set(missingTypes)] };
  }

  /**
   * A document update from the host. Returns false when it was ignored: the echo of our own edit,
   * or a text change that does not change the graph (formatting).
   */
  applyUpdate(workflow: Record<string, unknown>): boolean {
    const json = JSON.stringify(workflow);
    if (json === this.lastSent || json === this.baseline) return false;
    this.load(workflow);
    return true;
  }

  serialize(): Record<string, unknown> {
    return toPlainJson(this.graph.serialize({ sortNodes: true }) as unknown as Record<string, unknown>);
  }

  view(): ViewState {
    const { offset, scale } = this.canvas.ds;
    return { offset: [offset[0], offset[1]], scale };
  }

  setView(v: ViewState): void {
    this.canvas.ds.offset[0] = v.offset[0];
    this.canvas.ds.offset[1] = v.offset[1];
    this.canvas.ds.scale = v.scale;
    this.canvas.setDirty(true, true);
  }

  /** Zooms to the graph's bounds when part of it lies outside the canvas at the current view. */
  fitIfClipped(): void {
    const nodes = this.graph.nodes;
    if (!nodes.length) return;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    // From pos/size: litegraph refreshes boundingRect only when it draws a frame.
    const title = LiteGraph.NODE_TITLE_HEIGHT;
    for (const n of nodes) {
      const [x, y] = n.pos;
      const [w, h] = n.size;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y - title); x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + h);
    }
    const dpr = window.devicePixelRatio || 1;
    const { offset, scale } = this.canvas.ds;
    const vw = this.el.width / dpr / scale;
    const vh = this.el.height / dpr / scale;
    const vx = -offset[0];
    const vy = -offset[1];
    if (vw <= 1 || vh <= 1) return; // not laid out yet
    if (x0 >= vx && y0 >= vy && x1 <= vx + vw && y1 <= vy + vh) return;
    const margin = 24;
    this.canvas.ds.fitToBounds([x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin], { zoom: 1 });
    this.canvas.ds.scale = Math.min(this.canvas.ds.scale, 1);
    this.canvas.setDirty(true, true);
  }

  node(id: string | number): LGraphNode | undefined {
    return this.graph.getNodeById(id as never) ?? undefined;
  }

  /** Something may have changed: compare soon (or when the pointer is released). */
  scheduleCheck(label: string): void {
    if (!this.loaded || this.loading) return;
    this.pendingLabel ??= label;
    if (this.pointerDown) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), 0);
  }

  /** Posts the pending change now, if any (e.g. before Run, so the host runs what is shown). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const label = this.pendingLabel ?? 'edit';
    this.pendingLabel = undefined;
    if (!this.loaded) return;
    const workflow = this.serialize();
    const json = JSON.stringify(workflow);
    if (json === this.baseline) return;
    this.baseline = json;
    this.lastSent = json;
    this.cb.onEdit(workflow, label);
  }

  private cancelPending(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingLabel = undefined;
  }

  /** Toggles a mode (mute = NEVER, bypass = BYPASS) on the selected nodes, like ComfyUI's Ctrl+M / Ctrl+B. */
  toggleMode(mode: LGraphEventMode): void {
    const nodes = Object.values(this.canvas.selected_nodes ?? {}) as LGraphNode[];
    if (!nodes.length) return;
    const allSet = nodes.every((n) => n.mode === mode);
    for (const n of nodes) n.mode = allSet ? LGraphEventMode.ALWAYS : mode;
    this.canvas.setDirty(true, true);
    this.scheduleCheck(mode === LGraphEventMode.BYPASS ? 'bypass' : 'mute');
  }

  private hookChanges(): void {
    const { el, canvas, graph } = this;
    el.addEventListener('pointerdown', () => { this.pointerDown = true; }, true);
    const release = () => {
      this.pointerDown = false;
      this.scheduleCheck('pointer');
      this.cb.onViewChanged(this.view());
    };
    window.addEventListener('pointerup', release, true);
    window.addEventListener('pointercancel', release, true);
    window.addEventListener('blur', () => { if (this.pointerDown) release(); });
    // Typing in a prompt's textarea changes nothing until it commits (it notifies on its own).
    window.addEventListener('keyup', (e) => {
      const t = e.target as HTMLElement | null;
      if (t?.localName === 'textarea' && t.classList.contains('marble-textarea')) return;
      this.scheduleCheck('key');
    }, true);
    el.addEventListener('wheel', () => this.cb.onViewChanged(this.view()), { passive: true });
    el.addEventListener('keydown', (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey) return;
      const key = e.key.toLowerCase();
      if (key === 'm' || key === 'b') {
        this.toggleMode(key === 'm' ? LGraphEventMode.NEVER : LGraphEventMode.BYPASS);
        e.preventDefault();
        e.stopPropagation();
      }
    }, true);
    graph.onAfterChange = () => this.scheduleCheck('change');
    graph.onNodeAdded = () => this.scheduleCheck('add node');
    graph.onNodeRemoved = () => this.scheduleCheck('remove node');
    graph.onConnectionChange = () => this.scheduleCheck('connect');
    canvas.onNodeMoved = () => this.scheduleCheck('move');
    const baseMenu = canvas.getNodeMenuOptions.bind(canvas);
    canvas.getNodeMenuOptions = (node: LGraphNode) => {
      // Subgraphs are not understood by Marble's executor, so that entry is left out.
      const items = baseMenu(node).filter((i) => !(i && typeof i.content === 'string' && i.content.startsWith('Convert to Subgraph')));
      const toggle = (label: string, mode: LGraphEventMode) => ({
        content: node.mode === mode ? `Un${label.toLowerCase()}` : label,
        callback: () => {
          if (!canvas.selected_nodes?.[node.id as never]) canvas.selectNode(node);
          this.toggleMode(mode);
        },
      });
      return [toggle('Mute', LGraphEventMode.NEVER), toggle('Bypass', LGraphEventMode.BYPASS), null, ...items] as never;
    };
  }
}
