import assert from 'node:assert/strict';
import { describePhase } from '../../../src/extension/backendPhase';

describe('describePhase (status bar)', () => {
  it('idle and stopped show the name only and open the logs on click', () => {
    assert.deepEqual(describePhase({ kind: 'idle' }), {
      text: '$(circle-filled) Marble', tooltip: 'Marble: idle — click to show logs', command: 'marble.showLogs',
    });
    assert.equal(describePhase({ kind: 'stopped' }).text, '$(circle-outline) Marble');
  });

  it('loading a model spins and interrupts on click', () => {
    const d = describePhase({ kind: 'loading', node: '4' });
    assert.equal(d.text, '$(loading~spin) Marble: loading model');
    assert.match(d.tooltip, /node 4/);
    assert.equal(d.command, 'marble.interrupt');
  });

  it('a sampler step reads "step x of y"', () => {
    const d = describePhase({ kind: 'running', node: '3', classType: 'KSampler', step: 7, max: 20 });
    assert.equal(d.text, '$(loading~spin) Marble: step 7 of 20');
    assert.equal(d.tooltip, 'Marble: running KSampler 3 — click to interrupt');
  });

  it('a node without progress shows its class, else its id', () => {
    assert.equal(describePhase({ kind: 'running', node: '8', classType: 'VAEDecode' }).text, '$(loading~spin) Marble: VAEDecode');
    assert.equal(describePhase({ kind: 'running', node: '8' }).text, '$(loading~spin) Marble: node 8');
    // A step without its total is not shown as "step 3 of undefined".
    assert.equal(describePhase({ kind: 'running', node: '3', step: 3 }).text, '$(loading~spin) Marble: node 3');
  });

  it('failed carries the reason in the tooltip', () => {
    const d = describePhase({ kind: 'failed', message: 'crashed 4 times' });
    assert.equal(d.text, '$(error) Marble');
    assert.equal(d.tooltip, 'Marble: crashed 4 times — click to show logs');
  });
});
