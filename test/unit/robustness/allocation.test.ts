// checkAllocation: refuses before allocating, names what the memory was for, honours the caps.
import assert from 'node:assert/strict';
import { latentNodes } from '../../../src/inference/nodes/latent';
import { AllocationError, allocationLimitBytes, checkAllocation, setAllocationLimit, tensor } from '../../../src/inference/tensor';
import { fakeCtx } from '../inference/helpers';

describe('robustness: allocation limits', () => {
  afterEach(() => {
    setAllocationLimit(undefined);
    delete process.env.MARBLE_MAX_TENSOR_MB;
  });

  it('refuses above the limit with the size and the purpose, and allows below it', () => {
    setAllocationLimit(2 ** 20);
    assert.doesNotThrow(() => checkAllocation(2 ** 18, 'small'));
    assert.throws(() => checkAllocation(2 ** 18 + 1, 'image: 1 × 512×512'), (e: unknown) =>
      e instanceof AllocationError && /^image: 1 × 512×512 needs 0\.00 GiB \(262145 float32 values\), more than the 0\.00 GiB/.test(e.message));
    assert.throws(() => tensor([1, 4, 512, 512]), /a tensor of shape \[1, 4, 512, 512\] needs/);
    assert.throws(() => checkAllocation(NaN, 'x'), /x: invalid tensor size NaN/);
  });

  it('MARBLE_MAX_TENSOR_MB lowers the free-memory limit', () => {
    const free = allocationLimitBytes();
    assert.ok(free >= 64 * 2 ** 20);
    process.env.MARBLE_MAX_TENSOR_MB = '10';
    assert.equal(allocationLimitBytes(), Math.min(free, 10 * 2 ** 20));
    assert.throws(() => tensor([1, 4, 1024, 1024]), /needs 0\.02 GiB/);
  });

  it('EmptyLatentImage refuses 16384×16384 × 4096 in validation and in run, before allocating', async () => {
    const node = latentNodes().find((n) => n.schema.name === 'EmptyLatentImage')!;
    const inputs = { width: 16384, height: 16384, batch_size: 4096 };
    assert.match(String(await node.validateInputs!(inputs)), /^batch_size: the latent for 4096 × 16384×16384 needs 256\.0 GiB/);
    assert.throws(() => node.run(inputs, fakeCtx()), /^Error: batch_size: the latent for 4096 × 16384×16384 needs 256\.0 GiB/);
    assert.equal(await node.validateInputs!({ width: 512, height: 512, batch_size: 1 }), true);
    assert.match(String(await node.validateInputs!({ width: 520, height: 100, batch_size: 1 })), /^height: 100 is not a multiple of 8 .*try 104$/);
  });
});
