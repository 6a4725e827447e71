// SDXL text encoding as ComfyUI's sdxl_clip.py does it: the base encodes the prompt with CLIP-L and
// OpenCLIP-G (each its own tokenizer: L pads with the end token, G with 0), reads the layer
// CLIPSetLastLayer chose (default −2) of both WITHOUT the final LayerNorm, and concatenates
// them to 768 + 1280 = 2048 features; the pooled output is G's projected one. The refiner has G
// alone. CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner add the size conditioning ComfyUI
// passes to the U-Net's ADM vector (comfy_extras/nodes_clip_sdxl.py).
import { tensor } from '../tensor';
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import { encodeText, intInput, numberInput, textInput, type EncodeTextOptions } from './conditioning';
import type { ModelServices } from './modelServices';
import { asClip, type ClipEncoder, type ClipModel, type Conditioning, type ConditioningExtras } from './modelTypes';
import { schemaOf } from './schema';
import type { Tensor } from '../tensor';

/**
 * One of SDXL's encoders as a plain CLIP for the per-encoder path (raw hidden states). Each reads
 * its own tensor of an SDXL embedding file (clip_l / clip_g), as ComfyUI's SDXL tokenizers do.
 */
function part(clip: ClipModel, e: ClipEncoder, which: 'CLIP-L' | 'OpenCLIP-G'): ClipModel {
  return {
    name: `${clip.name} (${which})`, encoder: e.encoder, tokenizer: e.tokenizer, padId: e.padId, layerIdx: clip.layerIdx, rawHidden: true,
    embeddingDirs: clip.embeddingDirs, embeddingKey: which === 'CLIP-L' ? 'clip_l' : 'clip_g',
  };
}

async function encodeOne(clip: ClipModel, text: string, options: EncodeTextOptions): Promise<{ cond: Tensor; pooled: Float32Array | null }> {
  const [[cond, extras]] = await encodeText(clip, text, options);
  return { cond, pooled: extras.pooled_output ?? null };
}

/** Appends copies of `empty` ([1, chunk, D]) until `t` has `length` tokens. */
function padWith(t: Tensor, empty: Tensor, length: number): Tensor {
  if (t.shape[1] >= length) return t;
  const d = t.shape[2];
  const out = new Float32Array(length * d);
  out.set(t.data);
  for (let at = t.shape[1]; at < length; at += empty.shape[1]) out.set(empty.data.subarray(0, Math.min(empty.shape[1], length - at) * d), at * d);
  return tensor([1, length, d], out);
}

/**
 * SDXL CLIP encoding of `textL` (CLIP-L) and `textG` (OpenCLIP-G). When the prompts give different
 * chunk counts, the shorter side gets empty-prompt chunks, as CLIPTextEncodeSDXL does.
 */
export async function encodeSdxl(clip: ClipModel, textL: string, textG: string, extras: ConditioningExtras = {}, options: EncodeTextOptions = {}): Promise<Conditioning> {
  const x = clip.sdxl;
  if (!x) throw new Error(`CLIP '${clip.name}' is not an SDXL CLIP (it has one text encoder); SDXL text encoding needs CLIP-L and OpenCLIP-G from an SDXL checkpoint or Dual CLIP Loader (type sdxl)`);
  const g = await encodeOne(part(clip, x.g, 'OpenCLIP-G'), textG, options);
  if (!g.pooled) throw new Error(`the OpenCLIP-G text encoder of '${clip.name}' gives no pooled output (text_embeds); SDXL needs it`);
  if (!x.l) return [[g.cond, { pooled_output: g.pooled, ...extras }]];
  const lClip = part(clip, x.l, 'CLIP-L');
  let l = (await encodeOne(lClip, textL, options)).cond;
  let gc = g.cond;
  if (l.shape[1] !== gc.shape[1]) {
    if (l.shape[1] < gc.shape[1]) l = padWith(l, (await encodeOne(lClip, '', options)).cond, gc.shape[1]);
    else gc = padWith(gc, (await encodeOne(part(clip, x.g, 'OpenCLIP-G'), '', options)).cond, l.shape[1]);
  }
  const seq = l.shape[1];
  const dl = l.shape[2];
  const dg = gc.shape[2];
  const out = new Float32Array(seq * (dl + dg));
  for (let s = 0; s < seq; s++) {
    out.set(l.data.subarray(s * dl, (s + 1) * dl), s * (dl + dg));
    out.set(gc.data.subarray(s * dg, (s + 1) * dg), s * (dl + dg) + dl);
  }
  return [[tensor([1, seq, dl + dg], out), { pooled_output: g.pooled, ...extras }]];
}

export function sdxlClipNodes(services: ModelServices): NodeDefinition[] {
  const reportEp = (clip: ClipModel) => {
    const g = clip.sdxl?.g.encoder;
    if (g?.ep) services.onEp({ model: `${clip.name}/text_encoder_2`, provider: g.ep });
  };
  return [
    {
      schema: schemaOf('CLIPTextEncodeSDXL'),
      async run(inputs, ctx) {
        const node = 'CLIPTextEncodeSDXL';
        const clip = asClip(inputs.clip);
        // On a refiner's CLIP (OpenCLIP-G only) ComfyUI encodes text_g alone, as here.
        const extras: ConditioningExtras = {
          width: intInput(inputs.width, 'width', node), height: intInput(inputs.height, 'height', node), crop_w: intInput(inputs.crop_w, 'crop_w', node), crop_h: intInput(inputs.crop_h, 'crop_h', node),
          target_width: intInput(inputs.target_width, 'target_width', node), target_height: intInput(inputs.target_height, 'target_height', node),
        };
        const cond = await encodeSdxl(clip, textInput(inputs.text_l, 'text_l'), textInput(inputs.text_g, 'text_g'), extras, { warn: (m) => ctx.log(m) });
        reportEp(clip);
        return { outputs: [cond] };
      },
    },
    {
      schema: schemaOf('CLIPTextEncodeSDXLRefiner'),
      async run(inputs, ctx) {
        const node = 'CLIPTextEncodeSDXLRefiner';
        const clip = asClip(inputs.clip);
        const ascore = numberInput(inputs.ascore, 'ascore', node);
        const text = textInput(inputs.text, 'text');
        // ComfyUI tokenizes once for both encoders; with a base CLIP both read the same text.
        const cond = await encodeSdxl(clip, text, text, { aesthetic_score: ascore, width: intInput(inputs.width, 'width', node), height: intInput(inputs.height, 'height', node) }, { warn: (m) => ctx.log(m) });
        reportEp(clip);
        return { outputs: [cond] };
      },
    },
  ];
}
