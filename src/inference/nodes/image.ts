// Image nodes: load, save, preview, scale, invert, pad. Behaviour follows ComfyUI's nodes.py.
import { randomInt } from 'node:crypto';
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import { checkAllocation, tensor, type Tensor } from '../tensor';
import { imageDims, nchwToNhwc, nhwcToNchw, pyRound } from '../image/convert';
import { fileExists, resolveAnnotatedPath, sha256File } from '../image/inputFiles';
import { commonUpscale } from '../image/resize';
import { saveImages } from '../image/saveImages';
import { resolveSavePrefix } from '../image/savePath';
import { loadImage, loadImageMask, resizeImageLanczos } from '../image/sharpIo';
import type { GetConfig } from './runtimeConfig';
import { schemaOf } from './schema';

export const IMAGE_UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'];

function intInput(inputs: Record<string, unknown>, name: string, min: number, max: number): number {
  const v = inputs[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function oneOf(inputs: Record<string, unknown>, name: string, options: readonly string[]): string {
  const v = inputs[name];
  if (typeof v !== 'string' || !options.includes(v)) {
    throw new Error(`${name}: expected one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `comfy.utils.common_upscale` on an IMAGE ([B,H,W,C]); lanczos goes through 8-bit like ComfyUI's. */
export async function upscaleImage(image: Tensor, width: number, height: number, method: string, crop: string): Promise<Tensor> {
  checkAllocation(image.shape[0] * height * width * image.shape[3], `width/height: ${image.shape[0]} image(s) scaled to ${width}×${height}`);
  if (method === 'lanczos') return resizeImageLanczos(image, width, height, crop);
  return nchwToNhwc(commonUpscale(nhwcToNchw(image), width, height, method, crop));
}

function savingNode(name: 'SaveImage' | 'PreviewImage', getConfig: GetConfig): NodeDefinition {
  return {
    schema: schemaOf(name),
    // Refused while validating, so a bad prefix costs no sampling; %width% etc. cannot add '..'.
    ...(name === 'SaveImage' && {
      validateInputs(inputs: Record<string, unknown>) {
        try {
          resolveSavePrefix(String(inputs.filename_prefix ?? 'ComfyUI'), getConfig().outputDir);
          return true;
        } catch (e) {
          return (e as Error).message;
        }
      },
      validatesInputs: ['filename_prefix'],
    }),
    async run(inputs, ctx) {
      imageDims(inputs.images, `${name} input 'images'`);
      const cfg = getConfig();
      const preview = name === 'PreviewImage';
      const letters = Array.from({ length: 5 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('');
      const images = await saveImages({
        images: inputs.images as Tensor,
        filenamePrefix: preview ? `ComfyUI_temp_${letters}` : String(inputs.filename_prefix ?? 'ComfyUI'),
        folder: preview ? cfg.tempDir : cfg.outputDir,
        type: preview ? 'temp' : 'output',
        compressionLevel: preview ? 1 : 4,
        prompt: ctx.hidden.prompt,
        extraPngInfo: ctx.hidden.extraPngInfo,
      });
      return { outputs: [], ui: { images } };
    },
  };
}

/**
 * LoadImage and LoadImageMask read a file named by their `image` input from the input folder (or
 * an annotated ` [output]`/` [temp]` one): validated to exist, re-run when its SHA-256 changes.
 */
function inputFileNode(getConfig: GetConfig, name: string, load: (file: string, inputs: Record<string, unknown>) => Promise<unknown[]>): NodeDefinition {
  const fileOf = (inputs: Record<string, unknown>) => resolveAnnotatedPath(inputs.image, getConfig(), 'image');
  return {
    schema: schemaOf(name),
    validatesInputs: ['image'],
    async validateInputs(inputs) {
      return (await fileExists(fileOf(inputs))) ? true : `Invalid image file: ${String(inputs.image)}`;
    },
    isChanged: (inputs) => sha256File(fileOf(inputs)),
    async run(inputs) {
      return { outputs: await load(fileOf(inputs), inputs) };
    },
  };
}

const loadImageNode = (getConfig: GetConfig) =>
  inputFileNode(getConfig, 'LoadImage', async (file) => {
    const { image, mask } = await loadImage(file);
    return [image, mask];
  });

const loadImageMaskNode = (getConfig: GetConfig) =>
  inputFileNode(getConfig, 'LoadImageMask', async (file, inputs) => {
    const channel = oneOf(inputs, 'channel', ['alpha', 'red', 'green', 'blue']);
    return [await loadImageMask(file, channel)];
  });

const imageScale: NodeDefinition = {
  schema: schemaOf('ImageScale'),
  async run(inputs) {
    const { h, w } = imageDims(inputs.image, "ImageScale input 'image'");
    const method = oneOf(inputs, 'upscale_method', IMAGE_UPSCALE_METHODS);
    const crop = oneOf(inputs, 'crop', ['disabled', 'center']);
    let width = intInput(inputs, 'width', 0, 16384);
    let height = intInput(inputs, 'height', 0, 16384);
    if (width === 0 && height === 0) return { outputs: [inputs.image] };
    // One side 0 keeps the aspect ratio (ComfyUI rounds with Python's round()).
    if (width === 0) width = Math.max(1, pyRound((w * height) / h));
    else if (height === 0) height = Math.max(1, pyRound((h * width) / w));
    return { outputs: [await upscaleImage(inputs.image as Tensor, width, height, method, crop)] };
  },
};

const imageScaleBy: NodeDefinition = {
  schema: schemaOf('ImageScaleBy'),
  async run(inputs) {
    const { h, w } = imageDims(inputs.image, "ImageScaleBy input 'image'");
    const method = oneOf(inputs, 'upscale_method', IMAGE_UPSCALE_METHODS);
    const scale = inputs.scale_by;
    if (typeof scale !== 'number' || !(scale > 0)) throw new Error(`scale_by: expected a number > 0, got ${JSON.stringify(scale)}`);
    const width = Math.max(1, pyRound(w * scale));
    const height = Math.max(1, pyRound(h * scale));
    return { outputs: [await upscaleImage(inputs.image as Tensor, width, height, method, 'disabled')] };
  },
};

const imageInvert: NodeDefinition = {
  schema: schemaOf('ImageInvert'),
  run(inputs) {
    const image = inputs.image as Tensor;
    imageDims(image, "ImageInvert input 'image'");
    return { outputs: [tensor(image.shape, image.data.map((v) => 1 - v))] };
  },
};

/** ImagePadForOutpaint: grey (0.5) border, MASK 1 in the border with a quadratic feather inside. */
export function padForOutpaint(image: Tensor, left: number, top: number, right: number, bottom: number, feathering: number): [Tensor, Tensor] {
  const { b, h, w, c } = imageDims(image, "ImagePadForOutpaint input 'image'");
  const H = h + top + bottom, W = w + left + right;
  checkAllocation(b * H * W * (c + 1), `left/top/right/bottom: ${b} image(s) padded to ${W}×${H}`);
  const out = tensor([b, H, W, c], new Float32Array(b * H * W * c).fill(0.5));
  for (let i = 0; i < b; i++) {
    for (let y = 0; y < h; y++) {
      const from = ((i * h + y) * w) * c;
      out.data.set(image.data.subarray(from, from + w * c), ((i * H + y + top) * W + left) * c);
    }
  }
  const mask = tensor([1, H, W], new Float32Array(H * W).fill(1));
  const feather = feathering > 0 && feathering * 2 < h && feathering * 2 < w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      if (feather) {
        const d = Math.min(top !== 0 ? y : h, bottom !== 0 ? h - y : h, left !== 0 ? x : w, right !== 0 ? w - x : w);
        if (d < feathering) v = ((feathering - d) / feathering) ** 2;
      }
      mask.data[(y + top) * W + x + left] = v;
    }
  }
  return [out, mask];
}

const imagePadForOutpaint: NodeDefinition = {
  schema: schemaOf('ImagePadForOutpaint'),
  run(inputs) {
    const [l, t, r, b] = ['left', 'top', 'right', 'bottom'].map((n) => intInput(inputs, n, 0, 16384));
    const feathering = intInput(inputs, 'feathering', 0, 16384);
    return { outputs: padForOutpaint(inputs.image as Tensor, l, t, r, b, feathering) };
  },
};

export function imageNodes(getConfig: GetConfig): NodeDefinition[] {
  return [
    savingNode('SaveImage', getConfig),
    savingNode('PreviewImage', getConfig),
    loadImageNode(getConfig),
    loadImageMaskNode(getConfig),
    imageScale,
    imageScaleBy,
    imageInvert,
    imagePadForOutpaint,
  ];
}
