import assert from 'node:assert/strict';
import { RestartPolicy } from '../../../src/extension/restartPolicy';

describe('RestartPolicy', () => {
  it('restarts up to maxRestarts times within the window, then gives up', () => {
    let now = 0;
    const p = new RestartPolicy(3, 60_000, () => now);
    assert.deepEqual(p.recordCrash(), { action: 'restart', attempt: 1 });
    now += 1000;
    assert.deepEqual(p.recordCrash(), { action: 'restart', attempt: 2 });
    now += 1000;
    assert.deepEqual(p.recordCrash(), { action: 'restart', attempt: 3 });
    now += 1000;
    assert.deepEqual(p.recordCrash(), { action: 'giveUp', crashes: 4 });
  });
  it('forgets crashes older than the window', () => {
    let now = 0;
    const p = new RestartPolicy(1, 10_000, () => now);
    assert.equal(p.recordCrash().action, 'restart');
    now = 20_000;
    assert.equal(p.recordCrash().action, 'restart');
    now = 21_000;
    assert.equal(p.recordCrash().action, 'giveUp');
  });
  it('reset clears the history', () => {
    const p = new RestartPolicy(0, 1000, () => 0);
    assert.equal(p.recordCrash().action, 'giveUp');
    p.reset();
    assert.equal(p.recordCrash().action, 'giveUp');
    assert.throws(() => new RestartPolicy(-1), /maxRestarts/);
  });
});
