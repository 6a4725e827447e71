// litegraph has no multiline text widget. As in ComfyUI, the text is edited in place in a
// textarea laid over the node (promptTextareas.ts); the canvas draws the box, the token-count
// footer and, where no textarea is shown (zoomed far out, read-only), the wrapped text itself.

import type { LGraphNode, LGraphCanvas } from '@comfyorg/litegraph';
import { LiteGraph } from '@comfyorg/litegraph';
import { MIN_TEXTAREA_SCALE, type PromptTextareas } from './promptTextareas';

export interface MultilineHooks {
  widgetChanged(node: LGraphNode, name: string): void;
  canvas(): LGraphCanvas | undefined;
  /** Text for the widget's bottom line (a prompt's token count), or undefined for none. */
  footer?(node: LGraphNode, widget: string): string | undefined;
  /** The in-place editors; without them the text is drawn and edited through litegraph's prompt. */
  textareas?(): PromptTextareas | undefined;
}

export interface MultilineWidget {
  type: 'customtext';
  name: string;
  value: string;
  options: Record<string, unknown>;
  y: number;
  computedHeight?: number;
  /** The footer drawn last frame (the browser tests read back what is on screen). */
  drawnFooter?: string;
  draw(ctx: CanvasRenderingContext2D, node: LGraphNode, width: number, y: number, height: number): void;
  computeLayoutSize(): { minHeight: number; maxHeight: number; minWidth: number };
  mouse(e: PointerEvent, pos: [number, number], node: LGraphNode): boolean;
  committed(node: LGraphNode): void;
}

const MARGIN = 15;
const LINE_HEIGHT = 14;
const PAD = 6;
const FOOTER_HEIGHT = 16;

/** Greedy word wrap; words longer than the width are split by characters. */
export function wrapText(ctx: Pick<CanvasRenderingContext2D, 'measureText'>, text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/(\s+)/)) {
      const candidate = line + word;
      if (ctx.measureText(candidate).width <= width || line === '') {
        line = candidate;
        while (ctx.measureText(line).width > width && line.length > 1) {
          let cut = line.length - 1;
          while (cut > 1 && ctx.measureText(line.slice(0, cut)).width > width) cut--;
          lines.push(line.slice(0, cut));
          line = line.slice(cut);
        }
      } else {
        lines.push(line.trimEnd());
        line = word.trimStart();
      }
    }
    lines.push(line);
  }
  return lines;
}

export function createMultilineWidget(name: string, value: string, hooks: MultilineHooks): MultilineWidget {
  return {
    type: 'customtext',
    name,
    value,
    options: { multiline: true },
    y: 0,
    draw(ctx, node, width, y) {
      const footer = hooks.footer?.(node, name);
      this.drawnFooter = footer;
      const h = Math.max(LINE_HEIGHT + 2 * PAD + (footer ? FOOTER_HEIGHT : 0), (this.computedHeight ?? 60) - 4);
      const w = width - 2 * MARGIN;
      // A linked input (widget converted to a socket) takes its value from the link: not editable.
      const linked = node.inputs?.some((i) => i.name === name && i.link != null) ?? false;
      const inPlace = hooks.textareas?.()?.place(node, this, MARGIN, y, w, h - (footer ? FOOTER_HEIGHT : 0), !linked) ?? false;
      ctx.save();
      ctx.fillStyle = LiteGraph.WIDGET_BGCOLOR;
      ctx.strokeStyle = LiteGraph.WIDGET_OUTLINE_COLOR;
      ctx.beginPath();
      ctx.roundRect(MARGIN, y, w, h, 6);
      ctx.fill();
      ctx.stroke();
      ctx.clip();
      ctx.font = '12px Arial, sans-serif';
      ctx.textBaseline = 'top';
      const text = inPlace ? '' : String(this.value ?? '');
      ctx.fillStyle = text ? LiteGraph.WIDGET_TEXT_COLOR : LiteGraph.WIDGET_SECONDARY_TEXT_COLOR;
      const lines = inPlace ? [] : text ? wrapText(ctx, text, w - 2 * PAD) : [name];
      // The footer keeps its own strip, so long prompts never run under the count.
      const textH = h - 2 * PAD - (footer ? FOOTER_HEIGHT : 0);
      const maxLines = Math.max(1, Math.floor(textH / LINE_HEIGHT));
      lines.slice(0, maxLines).forEach((line, i) => ctx.fillText(line, MARGIN + PAD, y + PAD + i * LINE_HEIGHT));
      if (footer) {
        ctx.font = '11px Arial, sans-serif';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        ctx.fillStyle = LiteGraph.WIDGET_SECONDARY_TEXT_COLOR;
        ctx.fillText(footer, MARGIN + w - PAD, y + h - 4);
      }
      ctx.restore();
    },
    committed(node) {
      hooks.widgetChanged(node, name);
    },
    computeLayoutSize() {
      return { minHeight: 60, maxHeight: 1_000_000, minWidth: 200 };
    },
    mouse(e, _pos, node) {
      if (e.type !== 'pointerdown') return false;
      // Over the textarea the pointer never reaches the canvas. A click on the drawn text
      // (zoomed far out) zooms in around it and puts the cursor in its textarea.
      const layer = hooks.textareas?.();
      const canvas = hooks.canvas();
      if (!canvas) return false;
      if (layer && !canvas.read_only) {
        if (canvas.ds.scale < MIN_TEXTAREA_SCALE) {
          const r = canvas.canvas.getBoundingClientRect();
          canvas.ds.changeScale(1, [e.clientX - r.left, e.clientY - r.top]);
        }
        canvas.draw(true, true);
        layer.element(this)?.focus();
        return true;
      }
      canvas.prompt(name, this.value, (v: unknown) => {
        const next = String(v ?? '');
        if (next === this.value) return;
        this.value = next;
        hooks.widgetChanged(node, name);
        canvas.setDirty(true, false);
      }, e as never, true);
      return true;
    },
  };
}
