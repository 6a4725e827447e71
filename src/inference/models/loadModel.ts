// Opens a model folder's components as sessions from the shared SessionCache. A component is a
// handle, not a session: it re-acquires from the cache on every run, so the cache may release
// it under memory pressure and it is transparently re-created on the next use.
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Tensor } from '../tensor';
import { SessionCreateError, type EpName } from '../ort/executionProviders';
import { IoAdapter, type FeedValue, type IoSpec } from '../ort/ioAdapter';
import type { SessionCache, SessionVariant } from '../ort/sessionCache';
import { patchKey, writePatchedModel, type ComponentPatch } from '../lora/applyPatches';
import { checkIoContract, unetFacts } from './ioContracts';
import { defaultImageSize, describeModelFolder, ModelFolderError, type ComponentName, type ModelFolderDescription } from './modelFolder';

export class ComponentSession {
  private readonly adapters = new WeakMap<ort.InferenceSession, IoAdapter>();
  private lastEp: EpName | undefined;

  constructor(
    readonly component: ComponentName,
    readonly file: string,
    /** e.g. 'unet/model.onnx in /models/checkpoints/foo' — used in every error. */
    readonly label: string,
    private readonly cache: SessionCache,
    /** LoRA patches applied when the session is created (LoraLoader chains append to them). */
    readonly patches: readonly ComponentPatch[] = [],
  ) {}

  /** The same component with `more` patches after the existing ones; the base session is untouched. */
  withPatches(more: readonly ComponentPatch[]): ComponentSession {
    return new ComponentSession(this.component, this.file, this.label, this.cache, [...this.patches, ...more]);
  }

  private variant(): SessionVariant | undefined {
    const patches = this.patches.filter((p) => p.strength !== 0);
    if (!patches.length) return undefined;
    return { key: patchKey(patches), prepare: () => writePatchedModel(this.file, patches, { roundToHalf: this.component.startsWith('text_encoder') }) };
  }

  /** The EP that created the most recent session for this component. */
  get ep(): EpName | undefined {
    return this.lastEp;
  }

  private async withSession<T>(fn: (session: ort.InferenceSession, adapter: IoAdapter) => Promise<T>): Promise<T> {
    try {
      return await this.cache.use(
        this.file,
        async (s) => {
          this.lastEp = s.ep;
          let adapter = this.adapters.get(s.session);
          if (!adapter) {
            adapter = new IoAdapter(s.session, this.label);
            checkIoContract(this.component, this.label, adapter.inputs, adapter.outputs);
            this.adapters.set(s.session, adapter);
          }
          return fn(s.session, adapter);
        },
        this.label,
        this.variant(),
      );
    } catch (err) {
      if (err instanceof SessionCreateError) {
        const code = err.reason === 'invalid-model' ? 'corrupt-model' : err.reason === 'missing-file' ? 'missing-component' : 'ep-unavailable';
        throw new ModelFolderError(code, err.message);
      }
      throw err;
    }
  }

  /** Creates (or reuses) the session and checks its IO names; returns the declared IO. */
  async open(): Promise<{ inputs: IoSpec[]; outputs: IoSpec[]; ep: EpName }> {
    return this.withSession(async (_s, a) => ({ inputs: a.inputs, outputs: a.outputs, ep: this.lastEp as EpName }));
  }

  async run(feeds: Record<string, FeedValue>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    return this.withSession((session, adapter) => adapter.run(session, feeds, outputNames));
  }

  async release(): Promise<void> {
    await this.cache.release(this.file);
  }
}

export interface LoadedModel {
  description: ModelFolderDescription;
  textEncoder?: ComponentSession;
  textEncoder2?: ComponentSession;
  unet: ComponentSession;
  vaeDecoder?: ComponentSession;
  vaeEncoder?: ComponentSession;
  /** Declared IO of every component opened during loading. */
  io: Partial<Record<ComponentName, { inputs: IoSpec[]; outputs: IoSpec[]; ep: EpName }>>;
}

export interface LoadOptions {
  /** Components to open and validate now (default: all present). Others open on first run. */
  open?: readonly ComponentName[];
}

const FIELD: Record<ComponentName, keyof Pick<LoadedModel, 'textEncoder' | 'textEncoder2' | 'unet' | 'vaeDecoder' | 'vaeEncoder'>> = {
  text_encoder: 'textEncoder',
  text_encoder_2: 'textEncoder2',
  unet: 'unet',
  vae_decoder: 'vaeDecoder',
  vae_encoder: 'vaeEncoder',
};

export async function loadModelFolder(dir: string, cache: SessionCache, opts: LoadOptions = {}): Promise<LoadedModel> {
  const description = describeModelFolder(dir);
  const handles: Partial<Record<ComponentName, ComponentSession>> = {};
  for (const [name, files] of Object.entries(description.components) as [ComponentName, { model: string }][]) {
    handles[name] = new ComponentSession(name, files.model, `${name}/${path.basename(files.model)} in ${description.dir}`, cache);
  }
  const io: LoadedModel['io'] = {};
  const toOpen = opts.open ?? (Object.keys(handles) as ComponentName[]);
  for (const name of toOpen) {
    const h = handles[name];
    if (!h) throw new ModelFolderError('missing-component', `model folder ${description.dir} has no ${name}/model.onnx`);
    io[name] = await h.open();
  }
  if (io.unet) refineFromUnetIo(description, io.unet.inputs);
  const model = { description, io } as LoadedModel;
  for (const [name, h] of Object.entries(handles) as [ComponentName, ComponentSession][]) model[FIELD[name]] = h;
  return model;
}

/** Folders without config files (OnnxStack) only reveal family and inpainting through the IO. */
function refineFromUnetIo(d: ModelFolderDescription, inputs: IoSpec[]): void {
  const facts = unetFacts(inputs);
  if (facts.inChannels !== undefined) {
    if (d.unetInChannels !== undefined && d.unetInChannels !== facts.inChannels) d.warnings.push(`unet/config.json says in_channels ${d.unetInChannels} but the model takes ${facts.inChannels}`);
    d.unetInChannels = facts.inChannels;
  }
  d.crossAttentionDim ??= facts.crossAttentionDim;
  if (d.kind === 'unknown' && facts.kind !== 'unknown') {
    d.kind = facts.kind;
    if (!d.components.vae_decoder?.config && !d.components.vae_encoder?.config) d.scalingFactor = facts.kind === 'sdxl' ? 0.13025 : 0.18215;
    if (d.components.unet.config?.sample_size === undefined) d.defaultImageSize = defaultImageSize(facts.kind);
  }
}

/** Convenience: `describeModelFolder(dir).unetInChannels === 9` after loading. */
export function isInpaintingModel(model: LoadedModel): boolean {
  return model.description.unetInChannels === 9;
}
