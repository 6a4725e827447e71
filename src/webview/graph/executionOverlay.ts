// What a run looks like on the canvas: the running node outlined, its progress bar, preview and
// output images, and validation/execution errors (red outline + "input: message" lines). This is
// view state only: none of it is serialised, so a run never dirties the document.

import { LiteGraph, type LGraphNode } from '@comfyorg/litegraph';
import type { NodeErrors } from '../../protocol/webview';
import type { ThemeColours } from './theme';

export interface NodeErrorLine { input?: string; message: string }

export class ExecutionOverlay {
  runningNode: string | null = null;
  private progress = new Map<string, { value: number; max: number }>();
  private images = new Map<string, HTMLImageElement[]>();
  /** Values the last run used for controlled widgets (seeds), by node id. */
  private used = new Map<string, { widget: string; value: number }[]>();
  /** Nodes whose images are a sampler's latent preview, dropped when the run ends. */
  private previewNodes = new Set<string>();
  private errors = new Map<string, NodeErrorLine[]>();

  constructor(private colours: () => ThemeColours, private redraw: () => void) {}

  startRun(): void {
    this.runningNode = null;
    this.progress.clear();
    this.errors.clear();
    this.redraw();
  }

  setRunning(node: string | null): void {
    if (this.runningNode && this.runningNode !== node) this.progress.delete(this.runningNode);
    this.runningNode = node;
    this.redraw();
  }

  setProgress(node: string, value: number, max: number): void {
    this.progress.set(node, { value, max });
    this.redraw();
  }

  /** The last run's controlled values; replaces the previous run's. */
  setUsedValues(values: { node: string; widget: string; value: number }[]): void {
    this.used.clear();
    for (const v of values) this.used.set(v.node, [...(this.used.get(v.node) ?? []), { widget: v.widget, value: v.value }]);
    this.redraw();
  }

  usedValues(node: string): { widget: string; value: number }[] {
    return this.used.get(node) ?? [];
  }

  /** The line drawn in a node's title bar for the values its last run used, e.g. "last run: seed 42". */
  usedLabel(node: string): string | undefined {
    const used = this.used.get(node);
    return used?.length ? `last run: ${used.map((u) => `${u.widget} ${u.value}`).join(', ')}` : undefined;
  }

  /** A live latent preview on `node`: shown while the run goes on, cleared by endRun(). */
  setPreview(node: string, uri: string): void {
    this.setImages(node, [uri]);
    this.previewNodes.add(node);
  }

  /** The run ended (done, failed, interrupted): previews go, output images stay. */
  endRun(): void {
    for (const id of this.previewNodes) this.images.delete(id);
    this.previewNodes.clear();
    this.progress.clear();
    this.redraw();
  }

  /** Replaces the images shown on `node`. URIs must be allowed by img-src (webview URI or data:). */
  setImages(node: string, uris: string[]): void {
    this.previewNodes.delete(node);
    const imgs = uris.map((uri) => {
      const img = new Image();
      img.onload = () => this.redraw();
      img.src = uri;
      return img;
    });
    this.images.set(node, imgs);
    this.redraw();
  }

  setNodeErrors(nodeErrors: NodeErrors): void {
    this.errors.clear();
    for (const [id, entry] of Object.entries(nodeErrors)) {
      const lines = (entry?.errors ?? []).map((e) => ({
        input: e.extra_info?.input_name,
        message: e.details && e.details !== e.extra_info?.input_name ? `${e.message}: ${e.details}` : e.message,
      }));
      if (lines.length) this.errors.set(id, lines);
    }
    this.redraw();
  }

  setNodeError(node: string, message: string): void {
    this.errors.set(node, [{ message }]);
    this.redraw();
  }

  errorsFor(node: string): NodeErrorLine[] {
    return this.errors.get(node) ?? [];
  }

  imageCount(node: string): number {
    return this.images.get(node)?.length ?? 0;
  }

  /** Draws in node-local coordinates (litegraph has translated to the node's top-left). */
  draw(node: LGraphNode, ctx: CanvasRenderingContext2D): void {
    const id = String(node.id);
    const [w, h] = node.size;
    const titleH = LiteGraph.NODE_TITLE_HEIGHT;
    const colours = this.colours();
    const collapsed = !!node.flags?.collapsed;
    const errors = this.errors.get(id);
    if (errors || this.runningNode === id) {
      ctx.save();
      ctx.lineWidth = 3;
      ctx.strokeStyle = errors ? colours.error : colours.running;
      ctx.beginPath();
      ctx.roundRect(-4, -titleH - 4, (collapsed ? (node as unknown as { _collapsed_width?: number })._collapsed_width ?? w : w) + 8, (collapsed ? 0 : h) + titleH + 8, 10);
      ctx.stroke();
      ctx.restore();
    }
    const p = this.progress.get(id);
    if (p && p.max > 0 && !collapsed) {
      ctx.save();
      ctx.fillStyle = colours.progress;
      ctx.fillRect(0, -2, (w * Math.min(p.value, p.max)) / p.max, 4);
      ctx.restore();
    }
    const usedLabel = this.usedLabel(id);
    if (usedLabel && !collapsed) {
      ctx.save();
      ctx.font = '11px Arial, sans-serif';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillStyle = LiteGraph.WIDGET_SECONDARY_TEXT_COLOR;
      ctx.fillText(usedLabel, w - 8, -titleH / 2);
      ctx.restore();
    }
    if (!collapsed) this.drawImages(id, node, ctx, (errors?.length ?? 0) * 15);
    if (errors && !collapsed) this.markInputs(node, errors, colours.error, ctx);
    if (errors) {
      ctx.save();
      ctx.font = '12px Arial, sans-serif';
      ctx.fillStyle = colours.error;
      ctx.textBaseline = 'top';
      errors.forEach((e, i) => ctx.fillText(e.input ? `${e.input}: ${e.message}` : e.message, 0, (collapsed ? 0 : h) + 8 + i * 15));
      ctx.restore();
    }
  }

  /** Outlines the widget or the input slot each error names, so the eye lands on it. */
  private markInputs(node: LGraphNode, errors: NodeErrorLine[], colour: string, ctx: CanvasRenderingContext2D): void {
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    for (const e of errors) {
      if (!e.input) continue;
      const w = node.widgets?.find((x) => x.name === e.input);
      if (w && w.y != null) {
        const h = (w as { computedHeight?: number }).computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT;
        ctx.beginPath();
        ctx.roundRect(12, w.y - 1, node.size[0] - 24, h + 2, 6);
        ctx.stroke();
        continue;
      }
      const slot = node.inputs?.findIndex((i) => i.name === e.input) ?? -1;
      if (slot >= 0) {
        const [x, y] = node.getConnectionPos(true, slot);
        ctx.beginPath();
        ctx.arc(x - node.pos[0], y - node.pos[1], 7, 0, Math.PI * 2);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  /** `below` px under the node are taken (error lines), so hanging thumbnails start lower. */
  private drawImages(id: string, node: LGraphNode, ctx: CanvasRenderingContext2D, below: number): void {
    const imgs = this.images.get(id)?.filter((img) => img.complete && img.naturalWidth > 0);
    if (!imgs?.length) return;
    const [w, h] = node.size;
    const widgetsBottom = Math.max(
      0,
      ...(node.widgets ?? []).map((wd) => (wd.y ?? 0) + ((wd as { computedHeight?: number }).computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT)),
      (Math.max(node.inputs?.length ?? 0, node.outputs?.length ?? 0)) * LiteGraph.NODE_SLOT_HEIGHT,
    );
    // Draw inside the node when there is room, else hang the thumbnails below it: resizing the
    // node would change the document.
    let top = widgetsBottom + 4;
    let areaH = h - top - 4;
    if (areaH < 64) { top = h + 8 + below; areaH = Math.max(w, 128); }
    const cell = w / imgs.length;
    imgs.forEach((img, i) => {
      const scale = Math.min(cell / img.naturalWidth, areaH / img.naturalHeight);
      const iw = img.naturalWidth * scale;
      const ih = img.naturalHeight * scale;
      ctx.drawImage(img, i * cell + (cell - iw) / 2, top + (areaH - ih) / 2, iw, ih);
    });
  }
}
