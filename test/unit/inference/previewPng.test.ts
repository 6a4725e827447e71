import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodePreviewPng } from '../../../src/inference/image/previewPng';

describe('encodePreviewPng', () => {
  it('writes a PNG that decodes back to the same pixels', async () => {
    const width = 7;
    const height = 5;
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
    const png = encodePreviewPng({ width, height, data });
    const { data: back, info } = await sharp(Buffer.from(png)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [width, height, 3]);
    assert.deepEqual(new Uint8Array(back), data);
  });

  it('reduces a side above maxSize by whole-pixel striding and never enlarges', async () => {
    const data = new Uint8Array(10 * 4 * 3).map((_, i) => i % 256);
    const small = await sharp(Buffer.from(encodePreviewPng({ width: 10, height: 4, data }, 512))).metadata();
    assert.deepEqual([small.width, small.height], [10, 4]);
    const shrunk = await sharp(Buffer.from(encodePreviewPng({ width: 10, height: 4, data }, 5))).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([shrunk.info.width, shrunk.info.height], [5, 2]);
    // pixel (1,1) of the result is pixel (2,2) of the source
    assert.deepEqual([...shrunk.data.subarray((1 * 5 + 1) * 3, (1 * 5 + 1) * 3 + 3)], [...data.subarray((2 * 10 + 2) * 3, (2 * 10 + 2) * 3 + 3)]);
  });

  it('refuses data that does not fill the size', () => {
    assert.throws(() => encodePreviewPng({ width: 4, height: 4, data: new Uint8Array(10) }), /do not fill 4×4/);
  });
});
