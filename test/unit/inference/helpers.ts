// Shared test helpers: bundling a child entry with esbuild, and waiting on backend events.
import * as esbuild from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendClient } from '../../../src/inference/client/backendClient';
import type { BackendEvent } from '../../../src/protocol/inference';
import type { NodeContext } from '../../../src/workflow/nodeDefinition';

export const repoRoot = path.resolve(__dirname, '../../..');

/**
 * Bundles `entry` into a CommonJS file. Native packages stay external, so `outDir` must be
 * somewhere Node resolves them from (inside the repo) when the entry uses sharp.
 */
export async function bundle(entry: string, outDir: string): Promise<string> {
  const outfile = path.join(outDir, path.basename(entry).replace(/\.ts$/, '.js'));
  await esbuild.build({
    entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'es2022',
    external: ['sharp', 'onnxruntime-node'], logLevel: 'error',
  });
  return outfile;
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Records every event; `waitFor` resolves with the first recorded event matching `pred`. */
export function recordEvents(client: BackendClient) {
  const events: BackendEvent[] = [];
  const waiters: { pred: (e: BackendEvent) => boolean; resolve: (e: BackendEvent) => void }[] = [];
  client.on('event', (e) => {
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  return {
    events,
    forPrompt: (id: string) => events.filter((e) => (e.data as { prompt_id?: string }).prompt_id === id),
    waitFor(pred: (e: BackendEvent) => boolean, timeoutMs = 10000): Promise<BackendEvent> {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), timeoutMs);
        waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e); } });
      });
    },
  };
}

export const endOf = (promptId: string) => (e: BackendEvent) =>
  ['execution_success', 'execution_error', 'execution_interrupted'].includes(e.type) &&
  (e.data as { prompt_id?: string }).prompt_id === promptId;

/** A NodeContext for calling a node's run() directly. */
export function fakeCtx(prompt: unknown = undefined, extraPngInfo?: Record<string, unknown>): NodeContext {
  return {
    promptId: 'p', nodeId: '9', hidden: { prompt, extraPngInfo, uniqueId: '9' },
    signal: new AbortController().signal, progress() {}, log() {},
  };
}
