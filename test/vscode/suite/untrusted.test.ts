// Restricted Mode for real: runCodeServer.mjs starts code-server with workspace trust on (and no
// startup prompt), in a workspace whose .vscode/settings.json points Marble's model, output,
// input and default-workflow settings at workspace paths. Nothing may run, and those workspace
// values must be ignored.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, closeAll, waitFor, workspaceRoot } from './helpers';

async function filesUnder(dir: vscode.Uri): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: vscode.Uri, rel: string) => {
    const entries = await vscode.workspace.fs.readDirectory(d).then((e) => e, () => [] as [string, vscode.FileType][]);
    for (const [name, type] of entries) {
      if (type === vscode.FileType.Directory) await walk(vscode.Uri.joinPath(d, name), `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

describe('untrusted workspace (workspace trust on)', function () {
  this.timeout(120_000);
  afterEach(closeAll);

  it('is really untrusted, and the workspace settings are there', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the workspace must start untrusted');
    const file = vscode.Uri.joinPath(workspaceRoot(), '.vscode', 'settings.json');
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
    for (const v of ['evil-models', 'evil-output', 'evil-input', 'evil.workflow.json']) assert.ok(text.includes(v), v);
    const cfg = vscode.workspace.getConfiguration('marble');
    // VS Code itself hides workspace values of the restricted settings (package.json
    // capabilities.untrustedWorkspaces.restrictedConfigurations) ...
    assert.equal(cfg.inspect('outputFolder')?.workspaceValue, undefined);
    assert.equal(cfg.inspect('defaultWorkflow')?.workspaceValue, undefined);
    // ... but not inputFolder's: Marble must ignore that one on its own (next test).
    assert.equal(cfg.inspect('inputFolder')?.workspaceValue, 'evil-input');
  });

  it('workspace-level model, output, input and default-workflow paths are ignored', async () => {
    const marble = await api();
    const s = marble._test.effectiveSettings();
    const root = workspaceRoot().fsPath;
    assert.equal(s.outputFolder, path.join(root, 'assets', 'generated'));
    assert.equal(s.inputFolder, path.join(root, 'input'));
    assert.equal(s.defaultWorkflow, undefined);
    assert.ok(!s.modelsFolders.some((f) => f.includes('evil-models')), s.modelsFolders.join(', '));
  });

  it('Generate Image, Run Workflow and the image tool do nothing: no process, no file', async () => {
    const marble = await api();
    const before = await filesUnder(workspaceRoot());
    const outcome = await vscode.commands.executeCommand('marble.generateImage', { prompt: 'should not run', insert: false });
    assert.equal(outcome, undefined);
    const wf = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await vscode.commands.executeCommand('marble.runWorkflow', wf);
    // The tool stays listed (so an agent learns why it refuses); confirmed, it still refuses.
    assert.ok(vscode.lm.tools.some((t) => t.name === 'marble_generateImage'));
    const err = await Promise.resolve(vscode.lm.invokeTool('marble_generateImage', { toolInvocationToken: undefined, input: { prompt: 'should not run', path: 'tool.png' } }))
      .then(() => undefined, (e: unknown) => e);
    assert.match(String(err), /Restricted Mode/);
    assert.equal(marble.backend.phase.kind, 'stopped', `the inference process was never started (${JSON.stringify(marble.backend.phase)})`);
    assert.deepEqual(await filesUnder(workspaceRoot()), before, 'no file was written in the workspace');
    await waitFor('no evil-output folder', async () => !(await filesUnder(workspaceRoot())).some((f) => f.startsWith('evil-output/')));
  });
});
