// Multiline STRING widgets edit in place, as in ComfyUI: a <textarea> laid over the node, moved
// and scaled with the canvas each frame. The widget's value (what the document holds) changes
// only on commit: when the textarea loses focus or on Ctrl+Enter, so one typing session is one
// undoable edit. Escape, pressed by the user, puts the committed text back.
//
// Placement goes through CSSOM (`element.style.*`), which the webview's CSP allows; a `style`
// attribute would be blocked.

import type { LGraphCanvas, LGraphNode } from '@comfyorg/litegraph';

/** The widget side of a textarea: its committed value and who to tell when it changes. */
export interface TextareaOwner {
  name: string;
  value: string;
  /** Called after `value` was replaced by a commit (the widget tells its node). */
  committed?(node: LGraphNode): void;
}

export interface TextareaCallbacks {
  /** The owner's value was replaced by the textarea's text (one edit). */
  commit(node: LGraphNode, owner: TextareaOwner): void;
  /** The text being typed (not yet committed), e.g. to recount its tokens. */
  draft?(node: LGraphNode, owner: TextareaOwner, text: string): void;
}

interface Entry {
  el: HTMLTextAreaElement;
  node: LGraphNode;
  owner: TextareaOwner;
  frame: number;
}

/** Below this zoom the text is unreadable: the canvas draws it and the textarea hides (ComfyUI does the same). */
export const MIN_TEXTAREA_SCALE = 0.5;

export class PromptTextareas {
  private frame = 0;
  private readonly entries = new Map<TextareaOwner, Entry>();

  constructor(
    private readonly host: HTMLElement,
    private readonly canvas: () => LGraphCanvas | undefined,
    private readonly cb: TextareaCallbacks,
  ) {}

  /** Call before litegraph draws the nodes of a frame. */
  beginFrame(): void {
    this.frame++;
  }

  /** Call after the nodes are drawn: hides textareas of nodes not drawn, drops those of removed nodes. */
  endFrame(): void {
    const graph = this.canvas()?.graph;
    for (const [owner, e] of this.entries) {
      const gone = !graph || graph.getNodeById(e.node.id) !== e.node;
      if (gone) {
        e.el.remove();
        this.entries.delete(owner);
      } else if (e.frame !== this.frame) {
        e.el.hidden = true;
      }
    }
  }

  /**
   * Places the owner's textarea over the rectangle (node-local graph units) for this frame.
   * Returns false when no textarea is shown (zoomed too far out, read-only, disabled): the
   * caller draws the text on the canvas instead.
   */
  place(node: LGraphNode, owner: TextareaOwner, x: number, y: number, w: number, h: number, enabled: boolean): boolean {
    const canvas = this.canvas();
    if (!canvas) return false;
    const { offset, scale } = canvas.ds;
    const existing = this.entries.get(owner);
    if (!enabled || canvas.read_only || scale < MIN_TEXTAREA_SCALE || w <= 0 || h <= 0) {
      if (existing && document.activeElement === existing.el) existing.el.blur();
      return false;
    }
    const e = existing ?? this.create(node, owner);
    e.frame = this.frame;
    // The document changed under an idle textarea (undo, external edit): show the new value.
    if (document.activeElement !== e.el && e.el.value !== owner.value) e.el.value = owner.value;
    const left = (node.pos[0] + x + offset[0]) * scale;
    const top = (node.pos[1] + y + offset[1]) * scale;
    const s = e.el.style;
    s.width = `${w}px`;
    s.height = `${h}px`;
    s.transform = `translate(${left}px, ${top}px) scale(${scale})`;
    e.el.hidden = false;
    return true;
  }

  /** The textarea of a widget, if one was created (tests and focus handling). */
  element(owner: TextareaOwner): HTMLTextAreaElement | undefined {
    return this.entries.get(owner)?.el;
  }

  private create(node: LGraphNode, owner: TextareaOwner): Entry {
    const el = document.createElement('textarea');
    el.className = 'marble-textarea';
    el.spellcheck = false;
    el.value = owner.value;
    el.placeholder = owner.name;
    el.setAttribute('aria-label', `${node.title}: ${owner.name}`);
    el.dataset.node = String(node.id);
    el.dataset.widget = owner.name;
    const entry: Entry = { el, node, owner, frame: this.frame };
    const commit = () => {
      if (el.value === owner.value) return;
      owner.value = el.value;
      owner.committed?.(entry.node);
      this.cb.commit(entry.node, owner);
    };
    el.addEventListener('blur', commit);
    el.addEventListener('input', () => this.cb.draft?.(entry.node, owner, el.value));
    el.addEventListener('keydown', (ev) => {
      // Keys typed here are text, never litegraph shortcuts (Delete would remove the node).
      ev.stopPropagation();
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        commit();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        el.value = owner.value;
        this.cb.draft?.(entry.node, owner, el.value);
        el.blur();
      }
    });
    el.addEventListener('keyup', (ev) => ev.stopPropagation());
    // Wheel scrolls the text, not the canvas zoom, while the text overflows.
    el.addEventListener('wheel', (ev) => { if (el.scrollHeight > el.clientHeight) ev.stopPropagation(); });
    this.host.append(el);
    this.entries.set(owner, entry);
    return entry;
  }
}
