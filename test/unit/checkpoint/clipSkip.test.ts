// CLIPSetLastLayer's output choice: the LayerNorm-ed intermediate layer when the text encoder has
// one (checkpoint builds), the raw hidden state otherwise (optimum exports), the last layer for −1
// and for indices beyond the layer count (as ComfyUI's sd1_clip).
import * as assert from 'node:assert/strict';
import { hiddenOutputName } from '../../../src/inference/nodes/conditioning';
import type { ClipModel } from '../../../src/inference/nodes/modelTypes';

const clip = (layerIdx: number) => ({ name: 'test', layerIdx }) as unknown as ClipModel;
const raw = ['last_hidden_state', 'pooler_output', ...Array.from({ length: 13 }, (_, i) => `hidden_states.${i}`)];
const built = [...raw, ...Array.from({ length: 12 }, (_, i) => `hidden_states_normed.${i + 1}`)];

describe('hiddenOutputName (CLIPSetLastLayer)', () => {
  it('reads last_hidden_state for −1', () => {
    assert.equal(hiddenOutputName(clip(-1), built), 'last_hidden_state');
    assert.equal(hiddenOutputName(clip(-1), raw), 'last_hidden_state');
  });
  it('reads the LayerNorm-ed layer N+1−k when the encoder exports it, the raw one otherwise', () => {
    assert.equal(hiddenOutputName(clip(-2), built), 'hidden_states_normed.11');
    assert.equal(hiddenOutputName(clip(-12), built), 'hidden_states_normed.1');
    assert.equal(hiddenOutputName(clip(-2), raw), 'hidden_states.11');
  });
  it('falls back to the last layer beyond the layer count, as ComfyUI does', () => {
    assert.equal(hiddenOutputName(clip(-13), built), 'last_hidden_state');
    assert.equal(hiddenOutputName(clip(-24), raw), 'last_hidden_state');
  });
  it('names the model when the encoder has no hidden states', () => {
    assert.throws(() => hiddenOutputName(clip(-2), ['last_hidden_state']), /'test' exports only last_hidden_state/);
  });
});
