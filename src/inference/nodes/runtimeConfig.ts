// Where nodes find files. The host owns one RuntimeConfig and replaces it on `configure`; nodes
// read it through a getter at run time, so a reconfigured output folder applies to the next node.
import * as path from 'node:path';
import type { ConfigureParams } from '../../protocol/inference';

export type RuntimeConfig = ConfigureParams;
export type GetConfig = () => RuntimeConfig;

/** Defaults relative to a base folder (the CLI's cwd), mirroring ComfyUI's folder layout. */
export function defaultRuntimeConfig(base: string): RuntimeConfig {
  return {
    modelsRoots: [path.join(base, 'models')],
    outputDir: path.join(base, 'output'),
    inputDir: path.join(base, 'input'),
    tempDir: path.join(base, 'temp'),
    ep: 'auto',
    memoryBudgetMB: 0,
    previews: true,
  };
}
