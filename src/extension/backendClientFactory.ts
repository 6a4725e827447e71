// Adapts the shared BackendClient (src/inference/client) to what the supervisor needs, and
// starts it the way VS Code extensions start Node children: VS Code's own binary with
// ELECTRON_RUN_AS_NODE=1, stderr line by line into the log, the host pid passed so an orphaned
// child can exit on its own.
import type * as vscode from 'vscode';
import path from 'node:path';
import { BackendClient } from '../inference/client/backendClient';
import { RemoteComfyBackend } from '../remote/remoteBackend';
import { SpreadBackend } from '../remote/spreadBackend';
import type { BackendClientFactory, BackendClientLike } from './backend';

/** Splits a stream of chunks into lines (the last partial line waits for its end). */
function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk).split(/\r?\n/);
    rest = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') onLine(line);
  };
}

export function nodeBackendFactory(extensionPath: string): BackendClientFactory {
  return async (log: vscode.LogOutputChannel) => {
    const client = new BackendClient({
      entry: path.join(extensionPath, 'dist', 'inference.js'),
      execPath: process.execPath,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', MARBLE_PARENT_PID: String(process.pid) },
      cwd: extensionPath,
      // object_info scans model folders and the first load of onnxruntime can be slow.
      requestTimeoutMs: 120_000,
      handshakeTimeoutMs: 60_000,
    });
    client.on('stderr', lineSplitter((l) => log.info(`[inference:stderr] ${l}`)));
    client.on('stdout', lineSplitter((l) => log.debug(`[inference:stdout] ${l}`)));
    client.on('protocolError', (e) => log.warn(`[inference] protocol error: ${e.message}`));
    let expected = false;
    await client.start();
    const adapter: BackendClientLike = {
      get hello() { return client.hello; },
      queue: (prompt, o) => client.queue({ prompt: prompt as never, promptId: o.promptId, extraData: o.extraData }),
      interrupt: (promptId) => client.interrupt(promptId),
      free: (unloadModels, freeMemory) => client.free({ unloadModels, freeMemory }),
      objectInfo: () => client.objectInfo(),
      configure: (params) => client.configure(params),
      onEvent: (listener) => {
        client.on('event', listener);
        return { dispose: () => client.off('event', listener) };
      },
      onExit: (listener) => {
        const l = (info: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }) => {
          if (!expected && info.stderrTail.trim()) log.error(`[inference] last stderr:\n${info.stderrTail.trim()}`);
          listener({ code: info.code, signal: info.signal, expected });
        };
        client.on('exit', l);
        return { dispose: () => client.off('exit', l) };
      },
      dispose: async () => {
        expected = true;
        await client.shutdown(2000).catch(() => client.dispose());
      },
    };
    return adapter;
  };
}

/** A ComfyUI server (or several, spread by queue length) as the supervisor's client. */
export function remoteBackendFactory(servers: { url: string; headers?: Record<string, string> }[]): BackendClientFactory {
  return async (log: vscode.LogOutputChannel) => {
    const options = servers.map((s) => ({ ...s, log: (l: string) => log.info(`[remote] ${l}`) }));
    const client: RemoteComfyBackend | SpreadBackend = options.length === 1 ? new RemoteComfyBackend(options[0]) : new SpreadBackend(options);
    await client.start();
    let expected = false;
    const adapter: BackendClientLike = {
      hello: undefined,
      queue: (prompt, o) => client.queue({ prompt: prompt as never, promptId: o.promptId, extraData: o.extraData }),
      interrupt: (promptId) => client.interrupt(promptId),
      free: (unloadModels, freeMemory) => client.free({ unloadModels, freeMemory }),
      objectInfo: () => client.objectInfo(),
      configure: (params) => client.configure(params),
      onEvent: (listener) => {
        client.on('event', listener);
        return { dispose: () => client.off('event', listener) };
      },
      onExit: (listener) => {
        // A server that stopped answering ends this client like a crashed child: runs fail, a restart follows.
        const l = (info: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }) => {
          if (!expected) log.error(`[remote] ${info.stderrTail}`);
          listener({ code: info.code, signal: info.signal, expected });
        };
        client.once('crashed', l);
        return { dispose: () => client.off('crashed', l) };
      },
      dispose: () => {
        expected = true;
        client.dispose();
      },
    };
    return adapter;
  };
}
