// The last test: shows the workbench as a user would see it (default.workflow.json in Marble's
// graph editor after a run, the Marble view open beside it) and has runCodeServer.mjs take
// screenshots of it (test-results/screenshots/vscode-*.png) through a signal folder.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { apiWithRealGenerator, showGenerateView, VIEW_TYPE, waitFor, workspaceRoot } from './helpers';

describe('showcase (left open for the screenshots)', function () {
  this.timeout(90_000);

  it('opens a workflow in the graph editor and the Marble view', async () => {
    const marble = await apiWithRealGenerator();
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await showGenerateView(marble, 'the Generate view', 30_000);
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await waitFor('the graph page', () => marble._test.editorCount(uri, true) > 0, 30_000);
    if (process.env.MARBLE_MODELS) {
      // A finished run shows its image on the Save Image node.
      await marble._test.graphMessage(uri, { type: 'run' });
      await waitFor('the run to end', () => !marble.backend.busy, 60_000);
    }
    // Toasts left by earlier tests (the crash-policy test's fake backend) would cover the graph.
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('workbench.action.focusActiveEditorGroup');
    const signal = process.env.MARBLE_SCREENSHOT_SIGNAL;
    if (signal) {
      // runCodeServer.mjs photographs the workbench now, while the webviews are live.
      writeFileSync(path.join(signal, 'ready'), '');
      await waitFor('the runner to take the screenshots', () => existsSync(path.join(signal, 'taken')), 60_000);
    }
  });
});
