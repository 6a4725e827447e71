// Entry of the inference child process (bundled to dist/inference.js, started by BackendClient).
import { createRequire } from 'node:module';
import type { EpCapability } from '../protocol/inference';
import { Executor } from '../workflow/executor';
import { reportEp } from './host/backendEvents';
import { startHost } from './host/startHost';
import { ModelServices } from './nodes/modelServices';
import { createNodeRegistry } from './nodes/registry';
import { defaultRuntimeConfig } from './nodes/runtimeConfig';

/** Execution providers this onnxruntime-node build offers; none when it cannot load at all. */
function probeEps(): EpCapability[] {
  try {
    const ort = createRequire(__filename)('onnxruntime-node') as { listSupportedBackends?: () => EpCapability[] };
    return ort.listSupportedBackends?.().map(({ name, bundled }) => ({ name, bundled })) ?? [{ name: 'cpu', bundled: true }];
  } catch (e) {
    process.stderr.write(`onnxruntime-node failed to load: ${(e as Error).message}\n`);
    return [];
  }
}

let services: ModelServices | undefined;

startHost({
  config: defaultRuntimeConfig(process.cwd()),
  createRegistry: (getConfig) => {
    services = new ModelServices(getConfig, ({ model, provider }) => reportEp(model, provider));
    return createNodeRegistry(getConfig, services);
  },
  createExecutor: (registry) => new Executor(registry),
  eps: probeEps(),
  onConfigure: () => services?.reconfigure(),
  unloadModels: () => services?.free(),
});
