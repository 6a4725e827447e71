import assert from 'node:assert/strict';
import { ConversionNotifications, type ProgressSink } from '../../../src/extension/conversionProgress';
import type { ConversionEvent } from '../../../src/protocol/inference';

const ev = (file: string, state: ConversionEvent['data']['state'], value: number): ConversionEvent => ({
  type: 'conversion',
  data: { name: file.split('/').pop()!, file, state, value, prompt_id: 'p', node: '4' },
});

describe('conversion progress notifications', () => {
  it('opens one notification per file, reports "Preparing <name> for ONNX Runtime… N%" and closes when done', async () => {
    const shown: { reports: { message?: string; increment?: number }[]; closed: boolean }[] = [];
    const n = new ConversionNotifications((task) => {
      const rec = { reports: [] as { message?: string; increment?: number }[], closed: false };
      shown.push(rec);
      const sink: ProgressSink = { report: (v) => rec.reports.push(v) };
      void task(sink).then(() => (rec.closed = true));
    });
    n.handle(ev('/m/a.safetensors', 'converting', 0));
    n.handle(ev('/m/a.safetensors', 'converting', 0.431));
    n.handle(ev('/m/a.safetensors', 'converting', 0.432));
    n.handle(ev('/m/b.safetensors', 'waiting', 0.1));
    assert.equal(shown.length, 2);
    assert.deepEqual(shown[0].reports, [
      { message: 'Preparing a.safetensors for ONNX Runtime… 0%', increment: 0 },
      { message: 'Preparing a.safetensors for ONNX Runtime… 43%', increment: 43 },
    ]);
    assert.deepEqual(shown[1].reports, [{ message: 'Preparing b.safetensors for ONNX Runtime… 10% (another Marble process is converting it)', increment: 10 }]);
    n.handle(ev('/m/a.safetensors', 'done', 1));
    await Promise.resolve();
    assert.equal(shown[0].closed, true);
    assert.deepEqual(n.active, ['/m/b.safetensors']);
    n.handle(ev('/m/b.safetensors', 'failed', 0.2));
    await Promise.resolve();
    assert.equal(shown[1].closed, true);
    assert.deepEqual(n.active, []);
  });

  it('closes what is open on dispose', async () => {
    let closed = false;
    const n = new ConversionNotifications((task) => void task({ report: () => undefined }).then(() => (closed = true)));
    n.handle(ev('/m/a.safetensors', 'converting', 0.5));
    n.dispose();
    await Promise.resolve();
    assert.equal(closed, true);
  });
});
