// The backend supervisor inside a real extension host: lazy start of the real inference process,
// and the crash policy (running item failed with the reason, bounded restarts) with a fake client.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { BackendSupervisor, type BackendClientLike } from '../../../src/extension/backend';
import { PromptRunError } from '../../../src/extension/promptRun';
import { RestartPolicy } from '../../../src/extension/restartPolicy';
import type { ConfigureParams } from '../../../src/protocol/inference';
import { api } from './helpers';

const CONFIG: ConfigureParams = {
  modelsRoots: [], outputDir: '/tmp/marble-test/out', inputDir: '/tmp/marble-test/in', tempDir: '/tmp/marble-test/tmp',
  ep: 'cpu', memoryBudgetMB: 0, previews: false,
};

/** A client whose process "crashes" on demand. */
class FakeClient implements BackendClientLike {
  private _exit: ((i: { code: number | null; signal: string | null; expected: boolean }) => void) | undefined;
  configured = 0;
  queue = async () => ({ prompt_id: 'x', number: 0, node_errors: {} });
  interrupt = async () => ({ interrupted: true });
  free = async () => ({ freed: true });
  objectInfo = async () => ({});
  configure = async () => { this.configured++; return { applied: true as const }; };
  onEvent() { return { dispose() {} }; }
  onExit(l: (i: { code: number | null; signal: string | null; expected: boolean }) => void) {
    this._exit = l;
    return { dispose: () => { this._exit = undefined; } };
  }
  crash(code = 134): void { this._exit?.({ code, signal: null, expected: false }); }
  dispose(): void { this._exit?.({ code: 0, signal: null, expected: true }); }
}

describe('Marble backend supervision', () => {
  it('starts the real inference process lazily and serves object_info', async function () {
    this.timeout(90_000);
    const marble = await api();
    const info = await marble.backend.objectInfo();
    assert.ok(Object.keys(info).length > 0, 'object_info has nodes');
    assert.equal(marble.backend.isRunning, true);
    assert.equal(marble.backend.phase.kind, 'idle');
    assert.equal(await vscode.commands.executeCommand('marble.freeMemory'), true);
  });

  it('fails the running item with the reason, restarts up to 3 times, then gives up', async () => {
    const log = vscode.window.createOutputChannel('Marble test', { log: true });
    const clients: FakeClient[] = [];
    const sup = new BackendSupervisor(async () => {
      const c = new FakeClient();
      clients.push(c);
      return c;
    }, () => CONFIG, log, new RestartPolicy(3, 60_000));
    try {
      await sup.ensureStarted();
      assert.equal(clients.length, 1, 'started lazily, once');
      assert.equal(clients[0]!.configured, 1, 'configured on start');
      const run = await sup.queue({ '1': { class_type: 'KSampler', inputs: {} } });
      clients[0]!.crash(134);
      await assert.rejects(run.done, (e: PromptRunError) => e.kind === 'crashed' && /exit code 134/.test(e.message));

      const waitClients = async (n: number) => {
        for (let i = 0; i < 50 && (clients.length < n || !sup.isRunning); i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(clients.length, n);
      };
      await waitClients(2);
      clients[1]!.crash();
      await waitClients(3);
      clients[2]!.crash();
      await waitClients(4);
      clients[3]!.crash();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(clients.length, 4, 'no 4th restart inside the window');
      assert.equal(sup.isRunning, false);
      assert.equal(sup.phase.kind, 'failed');
      // A user action after giving up starts it afresh.
      await sup.ensureStarted();
      assert.equal(clients.length, 5);
    } finally {
      sup.dispose();
      log.dispose();
    }
  });
});
