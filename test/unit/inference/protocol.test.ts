// Runtime checks of the inference protocol and the prompt queue's ordering.
import assert from 'node:assert/strict';
import { PromptQueue, type QueuedPrompt } from '../../../src/inference/host/promptQueue';
import { parseChildMessage, parseParentMessage, ProtocolError } from '../../../src/protocol/inference';

describe('inference protocol validators', () => {
  it('accepts well-formed requests', () => {
    const q = parseParentMessage({ id: 3, type: 'queue', prompt: { '1': { class_type: 'X', inputs: {} } }, front: true });
    assert.equal(q.type, 'queue');
    assert.equal(parseParentMessage({ id: 4, type: 'interrupt' }).type, 'interrupt');
    const c = { id: 5, type: 'configure', modelsRoots: ['/m'], outputDir: '/o', inputDir: '/i', tempDir: '/t', ep: 'cpu', memoryBudgetMB: 0, previews: false };
    assert.deepEqual(parseParentMessage(c), c);
  });

  it('says what is wrong with a bad request', () => {
    const bad: [unknown, RegExp][] = [
      ['hello', /message must be an object, got string/],
      [{ type: 'queue' }, /'id' must be an integer/],
      [{ id: 1, type: 'launch' }, /unknown request type "launch" \(expected one of queue, interrupt/],
      [{ id: 1, type: 'queue' }, /'queue' request: missing field 'prompt'/],
      [{ id: 1, type: 'queue', prompt: [] }, /field 'prompt' must be an object of nodes, got an array/],
      [{ id: 1, type: 'queue', prompt: { '1': { inputs: {} } } }, /prompt node '1' must be \{class_type: string, inputs: object\}/],
      [{ id: 1, type: 'queue', prompt: {}, front: 'yes' }, /field 'front' must be a boolean, got string/],
      [{ id: 1, type: 'free' }, /missing field 'unloadModels'/],
      [{ id: 1, type: 'configure', modelsRoots: '/m' }, /field 'modelsRoots' must be an array of folder paths/],
      [{ id: 1, type: 'queue', prompt: {}, number: Infinity }, /field 'number' must be a finite number/],
    ];
    for (const [msg, re] of bad) assert.throws(() => parseParentMessage(msg), (e: Error) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(msg));
  });

  it('checks child messages on the parent side', () => {
    assert.equal(parseChildMessage({ id: 1, type: 'hello', version: 1, pid: 2, eps: [] }).type, 'hello');
    assert.equal(parseChildMessage({ id: 2, type: 'reply', inReplyTo: 1, ok: true, result: {} }).type, 'reply');
    assert.throws(() => parseChildMessage({ id: 2, type: 'reply', inReplyTo: 1, ok: false, error: {} }), /needs error.message/);
    assert.throws(() => parseChildMessage({ id: 3, type: 'event', event: { type: 'status' } }), /event \{type: string, data: object\}/);
    assert.throws(() => parseChildMessage({ id: 4, type: 'bye' }), /unknown child message type "bye"/);
  });
});

describe('PromptQueue', () => {
  const item = (promptId: string, number: number): QueuedPrompt => ({ promptId, number, prompt: {}, extraData: {}, outputs: [] });

  it('orders by number (front → negative), ties by arrival, explicit numbers anywhere', () => {
    const q = new PromptQueue();
    q.push(item('a', q.nextNumber(false))); // 1
    q.push(item('b', q.nextNumber(false))); // 2
    q.push(item('front', q.nextNumber(true))); // -3
    q.push(item('between', 1.5));
    q.push(item('tie', 2));
    assert.deepEqual(q.list().map((i) => i.promptId), ['front', 'a', 'between', 'b', 'tie']);
    assert.deepEqual(q.remove(['b', 'zzz']), ['b']);
    assert.equal(q.shift()?.promptId, 'front');
    assert.equal(q.size, 3);
  });
});
