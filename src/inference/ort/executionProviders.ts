// Execution-provider selection. onnxruntime has no session-level fallback: a session created
// with an unavailable EP throws (even with 'cpu' listed after it), so 'auto' probes one EP at a
// time and records which one actually produced the session (ort-sd.md §4.4).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

export type EpName = 'webgpu' | 'cuda' | 'dml' | 'coreml' | 'cpu';
export type EpSetting = 'auto' | EpName;
export const EP_SETTINGS: readonly EpSetting[] = ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu'];

export type SessionFactory = (file: string, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;

export const defaultSessionFactory: SessionFactory = (file, options) => ort.InferenceSession.create(file, options);

/** GPU EPs worth trying on each platform, best first; cpu always ends the list. */
export function autoEpOrder(platform: NodeJS.Platform = process.platform): EpName[] {
  switch (platform) {
    case 'linux':
      return ['cuda', 'webgpu', 'cpu'];
    case 'win32':
      return ['dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    default:
      return ['cpu'];
  }
}

export function isEpSetting(s: unknown): s is EpSetting {
  return typeof s === 'string' && (EP_SETTINGS as readonly string[]).includes(s);
}

/** Backends compiled into this onnxruntime-node build; undefined when the API is missing. */
function knownBackends(): Set<string> | undefined {
  const list = (ort as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends;
  try {
    return list ? new Set(list().map((b) => b.name)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CUDA needs provider libraries that onnxruntime-node's postinstall downloads from NuGet; with
 * `onnxruntime-node-install=skip` (our .npmrc) they are absent and ORT logs a loud error on
 * every attempt, so check for them first. Undefined = cannot tell, try anyway.
 */
function cudaLibrariesMissing(): boolean | undefined {
  try {
    const pkg = require.resolve('onnxruntime-node/package.json');
    const dir = path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
    if (!fs.existsSync(dir)) return undefined;
    return !fs.readdirSync(dir).some((f) => f.startsWith('libonnxruntime_providers_cuda'));
  } catch {
    return undefined;
  }
}

/**
 * WebGPU on Linux goes through Dawn's Vulkan backend. Without a Vulkan loader Dawn prints a
 * warning to stderr and the session fails anyway, so `auto` does not try it. An explicit
 * `webgpu` is still tried (and its error shown). Undefined = cannot tell, try anyway.
 */
function vulkanLoaderMissing(): boolean | undefined {
  const lib = 'libvulkan.so.1';
  try {
    const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
    if (dirs.some((d) => fs.existsSync(path.join(d, lib)))) return false;
    if (fs.existsSync('/etc/ld.so.cache')) return !fs.readFileSync('/etc/ld.so.cache').includes(lib);
    return undefined;
  } catch {
    return undefined;
  }
}

/** Whether onnxruntime-node's CUDA provider library was installed beside its binding. */
function cudaProviderInstalled(): boolean {
  try {
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const bin = path.join(pkg, 'bin', 'napi-v6', 'linux', process.arch);
    return fs.existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

/**
 * True when `auto` can only end on the CPU EP here: Linux with neither the CUDA provider
 * installed nor a Vulkan loader for WebGPU. Windows and macOS bundle DirectML/CoreML, so `auto`
 * may run on a GPU there. Used to pick CPU-optimized graphs for converted checkpoints.
 */
export function autoRunsOnCpu(
  platform: NodeJS.Platform = process.platform,
  probe: { cuda: () => boolean; vulkanMissing: () => boolean | undefined } = { cuda: cudaProviderInstalled, vulkanMissing: vulkanLoaderMissing },
): boolean {
  if (platform !== 'linux') return autoEpOrder(platform).length === 1;
  return !probe.cuda() && probe.vulkanMissing() === true;
}

/** What a person can do when an explicitly chosen EP does not load. */
const EP_HINTS: Partial<Record<EpName, string>> = {
  cuda: 'to use CUDA, install CUDA 12 + cuDNN 9 and run `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12`',
  webgpu: 'WebGPU needs a GPU driver with Vulkan (Linux), D3D12 (Windows) or Metal (macOS)',
  dml: 'DirectML needs Windows 10+ with a DirectX 12 GPU',
  coreml: 'CoreML needs macOS',
};

export interface EpAttempt {
  ep: EpName;
  error: string;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The EP that created the session (nodes it cannot run still fall back to CPU per node). */
  ep: EpName;
  /** EPs tried before it, with why they failed. */
  failed: EpAttempt[];
  createMs: number;
}

export type SessionCreateFailure = 'missing-file' | 'invalid-model' | 'ep-unavailable';

export class SessionCreateError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly attempts: EpAttempt[],
    readonly reason: SessionCreateFailure,
  ) {
    super(message);
    this.name = 'SessionCreateError';
  }
}

export interface CreateSessionOptions {
  ep?: EpSetting;
  platform?: NodeJS.Platform;
  factory?: SessionFactory;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** How the file is named in errors, e.g. 'unet/model.onnx'; defaults to the full path. */
  label?: string;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.trim().split('\n')[0].replace(/^\/onnxruntime_src\/\S+\s+/, '');
}

/**
 * Creates a session with the requested EP. 'auto' walks autoEpOrder() and falls back to cpu;
 * an explicit EP is strict and its failure names the EP and the file.
 */
export async function createSession(file: string, opts: CreateSessionOptions = {}): Promise<CreatedSession> {
  const setting = opts.ep ?? 'auto';
  if (!isEpSetting(setting)) throw new Error(`execution provider '${String(setting)}' is not one of ${EP_SETTINGS.join(', ')}`);
  const label = opts.label ?? file;
  if (!fs.existsSync(file)) throw new SessionCreateError(`model file ${label} does not exist`, file, [], 'missing-file');
  const factory = opts.factory ?? defaultSessionFactory;
  const order = setting === 'auto' ? autoEpOrder(opts.platform) : [setting];
  const built = opts.factory ? undefined : knownBackends();
  const failed: EpAttempt[] = [];
  for (const ep of order) {
    if (built && !built.has(ep)) {
      failed.push({ ep, error: `not included in this onnxruntime-node build for ${process.platform}/${process.arch}` });
      continue;
    }
    if (ep === 'cuda' && !opts.factory && process.platform === 'linux' && cudaLibrariesMissing()) {
      failed.push({ ep, error: 'CUDA provider libraries are not installed (onnxruntime-node was installed without its CUDA download; CUDA 12 + cuDNN 9 are also needed)' });
      continue;
    }
    if (ep === 'webgpu' && setting === 'auto' && !opts.factory && process.platform === 'linux' && vulkanLoaderMissing()) {
      failed.push({ ep, error: 'no Vulkan loader (libvulkan.so.1) on this machine; WebGPU needs a Vulkan driver' });
      continue;
    }
    const started = performance.now();
    try {
      const session = await factory(file, { graphOptimizationLevel: 'all', ...opts.sessionOptions, executionProviders: [ep] });
      return { session, ep, failed, createMs: performance.now() - started };
    } catch (err) {
      failed.push({ ep, error: firstLine(err) });
    }
  }
  const detail = failed.map((a) => `  ${a.ep}: ${a.error}`).join('\n');
  // ORT reports a missing weights file like any other load failure; say which file is missing.
  const externalMissing = failed.map((a) => /External data path does not exist: "?([^"]+)"?/.exec(a.error)?.[1]).find(Boolean);
  if (externalMissing) {
    const message = `could not load ${label}: its external weights file ${path.basename(externalMissing)} is missing (expected at ${externalMissing}); copy it next to ${path.basename(file)} from the original model folder\n${detail}`;
    throw new SessionCreateError(message, file, failed, 'missing-file');
  }
  const cpuFailed = failed.some((a) => a.ep === 'cpu' && !a.error.startsWith('not included'));
  const hint = EP_HINTS[setting as EpName];
  const message = cpuFailed
    ? `could not load ${label}: the file is not a valid ONNX model for onnxruntime (corrupt, truncated or unsupported)\n${detail}`
    : `execution provider '${setting}' could not create a session for ${label}; choose 'auto' or 'cpu' instead${hint ? ` (${hint})` : ''}\n${detail}`;
  throw new SessionCreateError(message, file, failed, cpuFailed ? 'invalid-model' : 'ep-unavailable');
}
