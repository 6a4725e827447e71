// CLIP Text Encode and friends: tokenize with ComfyUI's weighting rules, run the ONNX text encoder,
// and produce CONDITIONING lists shaped like ComfyUI's.
import { encodeTokenWeights, tokenizeWithWeights, type EmbeddingLookup } from '../text';
import { embeddingKeyForWidth, embeddingLookup, embeddingSearchDirs, findEmbeddingFile } from '../text/loadEmbedding';
import type { FeedValue, IoSpec } from '../ort/ioAdapter';
import { tensor, type Tensor } from '../tensor';
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import type { ModelServices } from './modelServices';
import { asClip, asConditioning, type ClipModel, type Conditioning, type ConditioningExtras } from './modelTypes';
import { schemaOf } from './schema';
import { encodeSdxl } from './sdxlClip';

/**
 * The encoder output to read for CLIPSetLastLayer's layer index. −1 is `last_hidden_state`;
 * −k reads layer N+1−k (HF's hidden_states[−k]). ComfyUI applies CLIP's final LayerNorm to that
 * intermediate layer (layer_norm_hidden_state=True): text encoders Marble builds from checkpoints
 * export it as `hidden_states_normed.<i>` and are read there. ONNX exports (optimum) carry only the
 * raw `hidden_states.<i>`, without the norm's weights, so those feed the state as exported
 * (documented in the README).
 */
export function hiddenOutputName(clip: ClipModel, outputNames: readonly string[]): string {
  if (clip.layerIdx === -1 && !clip.rawHidden) return 'last_hidden_state';
  const layers = outputNames.filter((n) => /^hidden_states\.\d+$/.test(n)).map((n) => Number(n.slice('hidden_states.'.length)));
  if (layers.length === 0) {
    throw new Error(
      `CLIP Set Last Layer ${clip.layerIdx}: the text encoder of '${clip.name}' exports only last_hidden_state; ` +
        'clip skip needs an export with hidden states (optimum: --output_hidden_states / SDXL-style exports)',
    );
  }
  const n = Math.max(...layers);
  // sd1_clip.set_clip_options: an index beyond the layer count falls back to the last layer.
  if (-clip.layerIdx > n) return 'last_hidden_state';
  const index = n + 1 + clip.layerIdx;
  // SDXL (layer_norm_hidden_state=False) reads the layer as it leaves the transformer.
  if (clip.rawHidden) return `hidden_states.${index}`;
  const normed = `hidden_states_normed.${index}`;
  return outputNames.includes(normed) ? normed : `hidden_states.${index}`;
}

/** The converted encoders' input for textual-inversion vectors (checkpoint/build/clipText.ts). */
export const EXTRA_EMBEDDINGS_INPUT = 'extra_token_embeddings';

/**
 * Feeds for a text encoder: input_ids [rows, seq], and on converted encoders
 * extra_token_embeddings [max(E, 1), D] (ids −(k+1) select embeddings[k]; one unused zero row
 * when there are none). Every caller running a converted text encoder feeds it this way.
 */
export function textEncoderFeeds(inputs: readonly IoSpec[], rows: readonly (readonly number[])[], embeddings: readonly Float32Array[] = []): Record<string, FeedValue> {
  const seq = rows[0]?.length ?? 0;
  const ids = new Int32Array(rows.length * seq);
  rows.forEach((r, i) => ids.set(r, i * seq));
  const feeds: Record<string, FeedValue> = { input_ids: { ints: ids, shape: [rows.length, seq] } };
  const spec = inputs.find((i) => i.name === EXTRA_EMBEDDINGS_INPUT);
  const width = spec?.shape[1];
  if (typeof width === 'number') {
    const count = Math.max(embeddings.length, 1);
    const extra = new Float32Array(count * width);
    embeddings.forEach((v, k) => {
      if (v.length !== width) throw new Error(`textual-inversion vector ${k} has ${v.length} values; the text encoder takes ${width}`);
      extra.set(v, k * width);
    });
    feeds[EXTRA_EMBEDDINGS_INPUT] = tensor([count, width], extra);
  } else if (embeddings.length > 0) {
    throw new Error(`this text encoder takes token ids only (no ${EXTRA_EMBEDDINGS_INPUT} input); it cannot use textual-inversion embeddings`);
  }
  return feeds;
}

export interface EncodeTextOptions {
  /** Where a missing embedding is reported (the node's log); ComfyUI logs a warning too. */
  warn?: (message: string) => void;
}

/**
 * The tokenizer's embedding lookup for this CLIP. Converted encoders take the vectors; an ONNX
 * export (optimum) has only input_ids, so an embedding that exists is refused there, naming it.
 */
function lookupFor(clip: ClipModel, width: number | undefined): EmbeddingLookup | undefined {
  const roots = clip.embeddingDirs;
  if (!roots || roots.length === 0) return undefined;
  if (width === undefined) {
    return (name) => {
      const file = findEmbeddingFile(name, embeddingSearchDirs(roots));
      if (file === undefined) return undefined;
      throw new Error(
        `embedding:${name} (${file}): the text encoder of '${clip.name}' is an ONNX export that takes token ids only, so it cannot use textual-inversion embeddings; ` +
          'load the .safetensors checkpoint instead (Marble converts it with embedding support) or remove the embedding from the prompt',
      );
    };
  }
  const key = clip.embeddingKey ?? embeddingKeyForWidth(width);
  return embeddingLookup(roots, { width, key, encoderLabel: key });
}

export async function encodeText(clip: ClipModel, text: string, options: EncodeTextOptions = {}): Promise<Conditioning> {
  const io = await clip.encoder.open();
  const extraSpec = io.inputs.find((i) => i.name === EXTRA_EMBEDDINGS_INPUT);
  const width = typeof extraSpec?.shape[1] === 'number' ? extraSpec.shape[1] : undefined;
  if (extraSpec && width === undefined) {
    throw new Error(`the text encoder of '${clip.name}' declares ${EXTRA_EMBEDDINGS_INPUT} without a fixed width; reconvert the checkpoint`);
  }
  const { chunks, missingEmbeddings } = tokenizeWithWeights(clip.tokenizer, text, { padId: clip.padId, embeddings: lookupFor(clip, width) });
  for (const name of missingEmbeddings) {
    options.warn?.(`warning, embedding:${name} does not exist, ignoring (looked in ${clip.embeddingDirs?.length ? clip.embeddingDirs.join(', ') : 'no embeddings folder'})`);
  }
  const outputNames = io.outputs.map((o) => o.name);
  const hiddenName = hiddenOutputName(clip, outputNames);
  const pooledName = ['pooler_output', 'text_embeds'].find((n) => outputNames.includes(n));
  const encoded = await encodeTokenWeights(
    chunks,
    async (rows, embeddings) => {
      const out = await clip.encoder.run(textEncoderFeeds(io.inputs, rows, embeddings), pooledName ? [hiddenName, pooledName] : [hiddenName]);
      return { hidden: out[hiddenName].data, pooled: pooledName ? out[pooledName].data : null };
    },
    { bos: clip.tokenizer.bosId, eos: clip.tokenizer.eosId, pad: clip.padId },
  );
  return [[tensor(encoded.shape, encoded.cond), { pooled_output: encoded.pooled }]];
}

/** node_helpers.conditioning_set_values: every entry gets a copy of its extras with `values` set. */
export function setValues(cond: Conditioning, values: Partial<ConditioningExtras>): Conditioning {
  return cond.map(([t, extras]) => [t, { ...extras, ...values }]);
}

export function numberInput(v: unknown, name: string, node: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${node}: input '${name}' must be a number, got ${String(v)}`);
  return v;
}

export function intInput(v: unknown, name: string, node: string): number {
  const n = numberInput(v, name, node);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${node}: input '${name}' must be a non-negative integer, got ${n}`);
  return n;
}

export function textInput(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new Error(`input '${name}' must be a string, got ${typeof v}`);
  return v;
}

export function conditioningNodes(services: ModelServices): NodeDefinition[] {
  return [
    {
      schema: schemaOf('CLIPTextEncode'),
      async run(inputs, ctx) {
        const clip = asClip(inputs.clip);
        const text = textInput(inputs.text, 'text');
        // An SDXL CLIP encodes with both its encoders, ComfyUI's default size conditioning applied when sampling.
        const warn = (m: string) => ctx.log(m);
        const cond = clip.sdxl ? await encodeSdxl(clip, text, text, {}, { warn }) : await encodeText(clip, text, { warn });
        if (clip.encoder.ep) services.onEp({ model: `${clip.name}/text_encoder`, provider: clip.encoder.ep });
        return { outputs: [cond] };
      },
    },
    {
      schema: schemaOf('CLIPSetLastLayer'),
      run(inputs) {
        const clip = asClip(inputs.clip);
        const layer = Number(inputs.stop_at_clip_layer);
        if (!Number.isInteger(layer) || layer > -1 || layer < -24) {
          throw new Error(`input 'stop_at_clip_layer' must be an integer from -24 to -1, got ${String(inputs.stop_at_clip_layer)}`);
        }
        const next: ClipModel = { ...clip, layerIdx: layer };
        return { outputs: [next] };
      },
    },
    {
      schema: schemaOf('ConditioningSetArea'),
      run(inputs) {
        const cond = asConditioning(inputs.conditioning, 'conditioning');
        const [width, height, x, y] = (['width', 'height', 'x', 'y'] as const).map((k) => intInput(inputs[k], k, 'ConditioningSetArea'));
        if (width < 8 || height < 8) throw new Error(`ConditioningSetArea: width and height must be at least 8 pixels, got ${width}×${height}`);
        const strength = numberInput(inputs.strength, 'strength', 'ConditioningSetArea');
        // ComfyUI stores latent units, rounding down: [height, width, y, x] ÷ 8.
        const area = [Math.floor(height / 8), Math.floor(width / 8), Math.floor(y / 8), Math.floor(x / 8)] as const;
        return { outputs: [setValues(cond, { area, strength, set_area_to_bounds: false })] };
      },
    },
    {
      schema: schemaOf('ConditioningSetMask'),
      run(inputs) {
        const cond = asConditioning(inputs.conditioning, 'conditioning');
        const mask = inputs.mask as Tensor | undefined;
        if (!mask || !(mask.data instanceof Float32Array) || !Array.isArray(mask.shape) || mask.shape.length < 2 || mask.shape.length > 3) {
          throw new Error("ConditioningSetMask: input 'mask' must be a MASK ([batch, height, width]); connect Load Image (Mask) or a mask node");
        }
        const strength = numberInput(inputs.strength, 'strength', 'ConditioningSetMask');
        const mode = String(inputs.set_cond_area);
        if (mode !== 'default' && mode !== 'mask bounds') throw new Error(`ConditioningSetMask: input 'set_cond_area' must be 'default' or 'mask bounds', got '${mode}'`);
        const m: Tensor = mask.shape.length === 2 ? { data: mask.data, shape: [1, ...mask.shape] } : mask;
        return { outputs: [setValues(cond, { mask: m, set_area_to_bounds: mode !== 'default', mask_strength: strength })] };
      },
    },
    {
      schema: schemaOf('ConditioningCombine'),
      run(inputs) {
        const a = asConditioning(inputs.conditioning_1, 'conditioning_1');
        const b = asConditioning(inputs.conditioning_2, 'conditioning_2');
        return { outputs: [[...a, ...b]] };
      },
    },
  ];
}
