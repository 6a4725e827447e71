// `.safetensors` models reach the ONNX pipeline through the conversion cache: the first load
// converts (reporting ComfyUI `progress` events on the loader node and `conversion` events for
// the VS Code notification), later loads open the cached folder. Errors name the input and file.
import * as path from 'node:path';
import type { NodeContext } from '../../workflow/nodeDefinition';
import type { SourceRole } from '../checkpoint/conversionCache';
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

export async function convertedFolder(
  services: ModelServices,
  file: string,
  role: SourceRole,
  ctx: Pick<NodeContext, 'promptId' | 'nodeId' | 'signal' | 'progress'> | undefined,
  input: string,
): Promise<ConvertedFolder> {
  const name = path.basename(file);
  const variant = { ...services.conversionVariant(), role };
  let lastPercent = -1;
  let started = false;
  const event = (state: 'converting' | 'waiting' | 'done' | 'failed', value: number, message?: string) =>
    reportConversion({ prompt_id: ctx?.promptId, node: ctx?.nodeId, name, file, state, value, message });
  try {
    const result = await services.conversionCache().ensure(file, {
      variant,
      signal: ctx?.signal,
      prepare: () => prepareConversion(file, { role, precision: variant.precision, builders: buildersOverride }),
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
