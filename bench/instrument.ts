// Bench-only instrumentation: a timeline of what ORT does (session creation through the
// SessionCache factory, every InferenceSession.run through a wrapper on the created session) and
// of the JS-side IO conversion (IoAdapter.toOrtFeeds / fromOrtOutputs, patched on the prototype).
// Nothing here is used by Marble itself.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { IoAdapter } from '../src/inference/ort/ioAdapter';
import type { SessionFactory } from '../src/inference/ort/executionProviders';

export interface Span {
  kind: 'create' | 'run' | 'convert';
  /** 'unet', 'text_encoder', 'vae_decoder', … (the model file's folder). */
  component: string;
  start: number;
  end: number;
}

export class Timeline {
  readonly spans: Span[] = [];

  add(kind: Span['kind'], component: string, start: number): void {
    this.spans.push({ kind, component, start, end: performance.now() });
  }

  /** Total ms of matching spans that lie inside [from, to]. */
  total(filter: Partial<Pick<Span, 'kind' | 'component'>>, from = -Infinity, to = Infinity): number {
    let ms = 0;
    for (const s of this.spans) {
      if (filter.kind && s.kind !== filter.kind) continue;
      if (filter.component && s.component !== filter.component) continue;
      if (s.start >= from && s.end <= to) ms += s.end - s.start;
    }
    return ms;
  }

  count(filter: Partial<Pick<Span, 'kind' | 'component'>>, from = -Infinity, to = Infinity): number {
    return this.spans.filter((s) => (!filter.kind || s.kind === filter.kind) && (!filter.component || s.component === filter.component) && s.start >= from && s.end <= to).length;
  }
}

const componentOf = (file: string) => path.basename(path.dirname(file));

/** A SessionFactory that times creation and wraps the session's run() to time every inference. */
export function timedFactory(timeline: Timeline): SessionFactory {
  return async (file, options) => {
    const component = componentOf(file);
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(file, options);
    timeline.add('create', component, t0);
    const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
    (session as { run: unknown }).run = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await run(...args);
      } finally {
        timeline.add('run', component, t);
      }
    };
    return session;
  };
}

/** Times IoAdapter's feed/output conversion (fp16 packing, int64 ids, …); returns an undo. */
export function timeIoConversion(timeline: Timeline): () => void {
  const proto = IoAdapter.prototype;
  const feeds = proto.toOrtFeeds;
  const outputs = proto.fromOrtOutputs;
  const component = (a: IoAdapter) => a.label.split('/')[0];
  proto.toOrtFeeds = function (this: IoAdapter, ...args: Parameters<typeof feeds>) {
    const t = performance.now();
    try {
      return feeds.apply(this, args);
    } finally {
      timeline.add('convert', component(this), t);
    }
  };
  proto.fromOrtOutputs = function (this: IoAdapter, ...args: Parameters<typeof outputs>) {
    const t = performance.now();
    try {
      return outputs.apply(this, args);
    } finally {
      timeline.add('convert', component(this), t);
    }
  };
  return () => {
    proto.toOrtFeeds = feeds;
    proto.fromOrtOutputs = outputs;
  };
}
