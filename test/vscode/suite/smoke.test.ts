// Smoke test of the VS Code tier itself: the right editor, the extension under test present and
// activating, and the fixture workspace opened. If this fails, every other test here is suspect.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './helpers';

describe('VS Code tier smoke', () => {
  it('runs inside VS Code 1.100 (the version code-server 4.100.3 embeds)', () => {
    assert.match(vscode.version, /^1\.100\./);
  });

  it(`finds the extension ${EXTENSION_ID} and activates it`, async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded: is extensionDevelopmentPath the repo root?`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('opens the fixture workspace with test mode on', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'no workspace folder is open');
    const marker = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder.uri, '.marble-test-workspace'));
    assert.match(Buffer.from(marker).toString('utf8'), /Marble VS Code test workspace/);
    assert.equal(process.env.MARBLE_TEST_MODE, '1');
  });
});
