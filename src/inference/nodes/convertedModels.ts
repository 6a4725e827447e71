// `.safetensors` models reach the ONNX pipeline through the conversion cache: the first load
// converts (reporting ComfyUI `progress` events on the loader node and `conversion` events for
// the VS Code notification), later loads open the cached folder. Errors name the input and file.
import * as path from 'node:path';
import type { NodeContext } from '../../workflow/nodeDefinition';
import { cpuOptimizationTarget, optimizeFolderForCpu } from '../checkpoint/cache/ortOptimize';
import type { CacheVariant, Producer, SourceRole } from '../checkpoint/conversionCache';
import { prepareConversion, type Builders } from '../checkpoint/convertCheckpoint';
import { reportConversion } from '../host/backendEvents';
import type { ModelServices } from './modelServices';

export interface ConvertedFolder {
  /** The optimum-layout folder in the cache. */
  dir: string;
  /** True when this load converted the file (a cache miss). */
  converted: boolean;
  summary: Record<string, unknown>;
}

/** Test hook: conversions use these graph writers instead of the real builders. */
let buildersOverride: Builders | undefined;
export function setConversionBuildersForTests(b: Builders | undefined): void {
  buildersOverride = b;
}

/** MARBLE_OPTIMIZE_CACHE=0 keeps the portable graphs in CPU entries too (for comparisons). */
const optimizeCpuGraphs = () => process.env.MARBLE_OPTIMIZE_CACHE !== '0';

/**
 * The cache variant and preparation for `file` as loaders convert it: CPU entries keep ORT's
 * optimized graphs (a U-Net session then opens in seconds, not minutes).
 */
export function cacheConversion(file: string, role: SourceRole, base: Pick<CacheVariant, 'precision' | 'epFamily'>): { variant: CacheVariant; prepare: () => Promise<Producer> } {
  const optimize = base.epFamily === 'cpu' && optimizeCpuGraphs();
  const variant: CacheVariant = { ...base, role, ...(optimize ? { optimizedFor: cpuOptimizationTarget() } : {}) };
  const prepare = async (): Promise<Producer> => {
    const produce = await prepareConversion(file, { role, precision: variant.precision, builders: buildersOverride });
    if (!optimize) return produce;
    return async (out, onProgress, signal) => {
      // Building streams weights (about 45 % of the time); ORT's optimizer takes the rest.
      const summary = await produce(out, (f) => onProgress(f * 0.45), signal);
      await optimizeFolderForCpu(out, (f) => onProgress(0.45 + 0.55 * f), signal);
      return { ...(summary ?? {}), optimizedFor: variant.optimizedFor };
    };
  };
  return { variant, prepare };
}

export async function convertedFolder(
  services: ModelServices,
  file: string,
  role: SourceRole,
  ctx: Pick<NodeContext, 'promptId' | 'nodeId' | 'signal' | 'progress'> | undefined,
  input: string,
): Promise<ConvertedFolder> {
  const name = path.basename(file);
  const { variant, prepare } = cacheConversion(file, role, services.conversionVariant());
  let lastPercent = -1;
  let started = false;
  const event = (state: 'converting' | 'waiting' | 'done' | 'failed', value: number, message?: string) =>
    reportConversion({ prompt_id: ctx?.promptId, node: ctx?.nodeId, name, file, state, value, message });
  try {
    const result = await services.conversionCache().ensure(file, {
      variant,
      signal: ctx?.signal,
      prepare,
      onProgress(fraction, state) {
        started = true;
        const percent = Math.floor(fraction * 100);
        if (percent === lastPercent) return;
        lastPercent = percent;
        ctx?.progress(percent, 100);
        event(state, fraction);
      },
    });
    if (started) event('done', 1);
    return { dir: result.dir, converted: result.converted, summary: result.marker.summary };
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (started) event('failed', Math.max(0, lastPercent) / 100, message);
    // One line: the input, then the reader's or detection's "<file>: <defect>".
    throw new Error(`input '${input}': ${message.split('\n')[0]}`);
  }
}
