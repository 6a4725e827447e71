// Marble: Download Model against a local HTTP server inside the extension host: the file lands in
// the first models folder and, without a restart, the backend's object_info and an open graph
// editor's ckpt_name list both offer it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HostToGraph } from '../../../src/protocol/webview';
import { api, closeAll, openInGraphEditor, waitFor, workspaceRoot } from './helpers';

/** A small well-formed .safetensors file. */
function safetensors(): Buffer {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.alloc(16, 1)]);
}

describe('Marble: Download Model', function () {
  this.timeout(120_000);
  afterEach(closeAll);

  it('downloads into the first models folder; the checkpoint is offered at once by object_info and open graph editors', async () => {
    const marble = await api();
    const body = safetensors();
    const server = http.createServer((req, res) => {
      if (req.url !== '/files/downloaded-test.safetensors') { res.statusCode = 404; res.end(); return; }
      res.writeHead(200, { 'content-length': body.length, etag: '"t1"' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const root = mkdtempSync(path.join(os.tmpdir(), 'marble-dl-vscode-'));
    const tapped: HostToGraph[] = [];
    const tap = marble._test.tapGraph((_uri, m) => tapped.push(m));
    try {
      await marble._test.setModelsRoots([root, ...(process.env.MARBLE_MODELS ? [process.env.MARBLE_MODELS] : [])]);
      const wf = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
      await openInGraphEditor(marble, wf, 'the graph editor to be ready');
      const before = (await marble.backend.objectInfo()).CheckpointLoaderSimple?.input.required?.ckpt_name?.[0] as string[];
      assert.ok(!before.includes('downloaded-test.safetensors'));

      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files/downloaded-test.safetensors`;
      const file = await vscode.commands.executeCommand<string>('marble.downloadModel', { url, folder: 'checkpoints' });
      assert.equal(file, path.join(root, 'checkpoints', 'downloaded-test.safetensors'));
      assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), createHash('sha256').update(body).digest('hex'));
      assert.ok(!existsSync(path.join(root, 'checkpoints', 'downloaded-test.safetensors.partial')));

      const after = (await marble.backend.objectInfo()).CheckpointLoaderSimple?.input.required?.ckpt_name?.[0] as string[];
      assert.ok(after.includes('downloaded-test.safetensors'), `object_info lists it: ${after.join(', ')}`);
      const combo = await waitFor('ckpt_name values sent to the open graph editor', () => tapped.find((m) => m.type === 'comboValues'
        && m.classType === 'CheckpointLoaderSimple' && m.input === 'ckpt_name' && m.values.includes('downloaded-test.safetensors')));
      assert.ok(combo);
    } finally {
      tap.dispose();
      await marble._test.setModelsRoots(undefined);
      server.closeAllConnections();
      server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
