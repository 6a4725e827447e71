// A new user without any model: Generate Image offers the demo model, installs the bundled tiny
// shapes checkpoint (resources/models/marble-shapes-tiny.safetensors) in global storage and goes
// on to a PNG through the normal checkpoint loader (.safetensors → ONNX conversion), at the
// model's own 64×64.
// The notification is answered through a test hook; the models roots are narrowed to an empty
// folder so MARBLE_MODELS and the checkout's models/ do not hide the missing-model case.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { MarbleApi } from '../../../src/extension/extension';
import { checkpointsIn, DEMO_CHECKPOINT, demoModelFile } from '../../../src/extension/demoModelSupport';
import { DEMO_MODEL } from '../../../src/workflow/demoModel';
import { CHOICE_CREATE_DEMO, CHOICE_HOW_TO, CHOICE_SELECT_FOLDER } from '../../../src/extension/missingModelOffer';
import { apiWithRealGenerator, readPngPrompt } from './helpers';

describe('no model installed: the demo model offer', function () {
  this.timeout(120_000);
  let marble: MarbleApi;
  let empty: string;
  let offers: { message: string; items: string[] }[];

  before(async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    marble = await apiWithRealGenerator();
    empty = mkdtempSync(path.join(os.tmpdir(), 'marble-no-models-'));
    // A demo model left by an earlier run of this profile would hide the offer.
    rmSync(demoModelFile(marble._test.globalStorageModels()), { recursive: true, force: true });
    await marble._test.setModelsRoots([empty]);
  });

  beforeEach(() => { offers = []; });

  after(async () => {
    if (!marble) return;
    marble._test.setModelOfferPrompt(undefined);
    // Later files expect only the suite's models folder's checkpoint: take the demo one out again.
    rmSync(demoModelFile(marble._test.globalStorageModels()), { force: true });
    await marble._test.setModelsRoots(undefined);
    rmSync(empty, { recursive: true, force: true });
  });

  const answer = (choice: string | undefined) => marble._test.setModelOfferPrompt(async (message, ...items) => {
    offers.push({ message, items });
    return choice;
  });

  it('dismissing the offer ends Generate Image quietly, with nothing created', async () => {
    assert.deepEqual(checkpointsIn(await marble.backend.objectInfo()), [], 'the backend lists no checkpoint');
    answer(undefined);
    const outcome = await vscode.commands.executeCommand('marble.generateImage', { prompt: 'nothing yet', insert: false });
    assert.equal(outcome, undefined);
    assert.equal(offers.length, 1);
    assert.match(offers[0]!.message, /found no Stable Diffusion model/);
    assert.match(offers[0]!.message, /trained on simple shapes/);
    assert.deepEqual(offers[0]!.items, [CHOICE_SELECT_FOLDER, CHOICE_CREATE_DEMO, CHOICE_HOW_TO]);
    assert.equal(existsSync(demoModelFile(marble._test.globalStorageModels())), false);
  });

  it('"Use Demo Model" installs the shapes checkpoint under global storage and the generation goes on to a 64×64 PNG', async () => {
    answer(CHOICE_CREATE_DEMO);
    const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[]; seed: number }>(
      'marble.generateImage', { prompt: DEMO_MODEL.examplePrompt, insert: false },
    );
    assert.equal(offers.length, 1, 'offered once');
    const file = demoModelFile(marble._test.globalStorageModels());
    assert.ok(existsSync(file), `demo model at ${file}`);
    assert.ok(outcome && outcome.images.length === 1, 'one image generated');
    const png = readFileSync(outcome.images[0]!.fsPath);
    // IHDR: width and height are the big-endian words at bytes 16 and 20.
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [DEMO_MODEL.width, DEMO_MODEL.height]);
    const prompt = await readPngPrompt(outcome.images[0]!);
    const loader = Object.values(prompt).find((n) => n.class_type === 'CheckpointLoaderSimple')!;
    assert.equal(loader.inputs.ckpt_name, DEMO_CHECKPOINT);
    assert.ok(checkpointsIn(await marble.backend.objectInfo()).includes(DEMO_CHECKPOINT), 'the backend now lists the demo checkpoint');

    // Installed now: the next generation is not asked again.
    offers = [];
    answer(undefined);
    const second = await vscode.commands.executeCommand<{ images: vscode.Uri[] }>('marble.generateImage', { prompt: 'again', insert: false });
    assert.equal(offers.length, 0);
    assert.equal(second?.images.length, 1);
  });
});
