import assert from 'node:assert/strict';
import { applyControl, normaliseControlMode, RANDOM_SEED_LIMIT, SEED_RANGE } from '../../../src/extension/seedControl';

describe('seedControl', () => {
  it('maps legacy booleans like the ComfyUI loader', () => {
    assert.equal(normaliseControlMode(true), 'randomize');
    assert.equal(normaliseControlMode(false), 'fixed');
    assert.equal(normaliseControlMode('increment'), 'increment');
    assert.throws(() => normaliseControlMode('sometimes'), /control_after_generate.*"sometimes"/);
  });
  it('fixed keeps, increment/decrement step and clamp to the range', () => {
    assert.equal(applyControl('fixed', 5, SEED_RANGE), 5);
    assert.equal(applyControl('increment', 5, SEED_RANGE), 6);
    assert.equal(applyControl('decrement', 5, SEED_RANGE), 4);
    assert.equal(applyControl('decrement', 0, SEED_RANGE), 0);
    assert.equal(applyControl('increment', 10, { min: 0, max: 10 }), 10);
  });
  it('randomize draws an integer in [0, 2^50) for seeds', () => {
    assert.equal(applyControl('randomize', 5, SEED_RANGE, () => 0), 0);
    const hi = applyControl('randomize', 5, SEED_RANGE, () => 0.999999999);
    assert.ok(hi < RANDOM_SEED_LIMIT && hi > RANDOM_SEED_LIMIT * 0.99, String(hi));
    assert.ok(Number.isInteger(applyControl('randomize', 5, SEED_RANGE, () => 0.123456789)));
  });
});
