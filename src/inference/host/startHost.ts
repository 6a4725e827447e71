// Wires an InferenceHost to this process: IPC transport, parent watch, validation against the
// registry, `/object_info` with folder combos, and a last-resort guard for stray async errors.
import type { EpCapability } from '../../protocol/inference';
import type { NodeRegistry } from '../../workflow/nodeDefinition';
import type { InputSpec, ObjectInfo } from '../../workflow/objectInfo';
import { validatePrompt } from '../../workflow/validate';
import type { RuntimeConfig } from '../nodes/runtimeConfig';
import { setBackendEventSink } from './backendEvents';
import { InferenceHost, type PromptExecutor } from './host';
import { buildObjectInfo, listModelFiles, type ModelLister } from './objectInfo';
import { watchParent } from './parentWatch';
import { processTransport } from './processTransport';

export interface StartHostOptions {
  config: RuntimeConfig;
  /** Builds the registry; nodes read the live config through the getter. */
  createRegistry(getConfig: () => RuntimeConfig): NodeRegistry;
  createExecutor(registry: NodeRegistry): PromptExecutor;
  eps?: EpCapability[];
  listModels?: ModelLister;
  onConfigure?(config: RuntimeConfig): void | Promise<void>;
  unloadModels?(): void | Promise<void>;
}

/** Combo options of a validated prompt's folder-backed inputs, looked up in a fresh object_info. */
function comboLookup(info: ObjectInfo) {
  return (classType: string, inputName: string): readonly string[] | undefined => {
    const entry = info[classType];
    const spec = (entry?.input.required?.[inputName] ?? entry?.input.optional?.[inputName]) as InputSpec | undefined;
    return spec && Array.isArray(spec[0]) && spec[1]?.x_folder ? (spec[0] as string[]) : undefined;
  };
}

export function startHost(opts: StartHostOptions): InferenceHost {
  let config = opts.config;
  const getConfig = () => config;
  const registry = opts.createRegistry(getConfig);
  const executor = opts.createExecutor(registry);
  const listModels = opts.listModels ?? listModelFiles;
  const exit = (code: number) => process.exit(code);
  const host = new InferenceHost({
    transport: processTransport(),
    executor,
    eps: opts.eps ?? [],
    getConfig,
    async setConfig(next) {
      config = next;
      await opts.onConfigure?.(next);
    },
    objectInfo: () => buildObjectInfo(registry, config, listModels),
    async validate(prompt) {
      const info = await buildObjectInfo(registry, config, listModels);
      const result = await validatePrompt(prompt, registry, { comboValues: comboLookup(info) });
      if (result.ok) return { ok: true, outputs: result.outputs, nodeErrors: result.node_errors, prompt: result.prompt };
      const error = result.error ?? { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} };
      return { ok: false, rejection: { error, node_errors: result.node_errors } };
    },
    unloadModels: opts.unloadModels,
    exit,
  });
  watchParent({ exit });
  setBackendEventSink((event) => host.emit(event));
  // A node's stray callback must not take the queue down with it; report and carry on.
  process.on('uncaughtException', (err) => host.log('error', `uncaught exception: ${err?.stack ?? err}`));
  process.on('unhandledRejection', (err) => host.log('error', `unhandled rejection: ${(err as Error)?.stack ?? err}`));
  host.start();
  return host;
}
