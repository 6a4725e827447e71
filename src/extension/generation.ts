// One generation from values (prompt, size, seed, …) to image files in the workspace. The
// backend part is behind ImageGenerator so the VS Code tests can substitute a fake image while
// everything after it (moving into the workspace, inserting the reference) runs for real.
import * as vscode from 'vscode';
import path from 'node:path';
import { uiToApi } from '../workflow/uiToApi';
import type { UiWorkflow } from '../workflow/types';
import type { BackendSupervisor } from './backend';
import { moveIntoWorkspace, referenceText, type InsertionTarget } from './assetStore';
import { altTextFromPrompt } from './assetReference';
import type { OutputImage, PromptRunObserver } from './promptRun';
import type { MarbleSettings } from './settings';
import { fillTemplate, substituteCheckpoint, type GenerationValues } from './workflowTemplate';
import { DEMO_CHECKPOINT, demoModelValues } from './demoModelSupport';

/** Images the backend wrote to its staging folder, with the seed actually used. */
export interface StagedImages {
  files: vscode.Uri[];
  seed: number;
}

export interface GenerateOptions {
  /** The document or folder the request came from (picks the workspace folder and template). */
  resource?: vscode.Uri;
  token?: vscode.CancellationToken;
  observers?: PromptRunObserver[];
}

export interface ImageGenerator {
  generate(values: GenerationValues, options: GenerateOptions): Promise<StagedImages>;
}

const LAST_SEED_KEY = 'marble.lastSeed';

/** The real generator: default template → API prompt → backend → staged PNG files. */
export class BackendImageGenerator implements ImageGenerator {
  /** Log lines already written (notes that would otherwise repeat on every generation). */
  private readonly _said = new Set<string>();
  constructor(
    private readonly _backend: BackendSupervisor,
    private readonly _settings: MarbleSettings,
    private readonly _state: vscode.Memento,
    private readonly _extensionUri: vscode.Uri,
    private readonly _log: vscode.LogOutputChannel,
    /** Resolves once a checkpoint is installed (offering the demo model when none is). */
    private readonly _ensureCheckpoint: () => Promise<void> = async () => undefined,
  ) {}

  async loadTemplate(resource?: vscode.Uri): Promise<unknown> {
    const custom = this._settings.defaultWorkflow(resource);
    const uri = custom ?? vscode.Uri.joinPath(this._extensionUri, 'resources', 'workflows', 'default.workflow.json');
    let text: string;
    try {
      text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    } catch (e) {
      throw new Error(`Cannot read the ${custom ? 'marble.defaultWorkflow' : 'bundled default'} workflow ${uri.fsPath}: ${e instanceof Error ? e.message : e}`);
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`The workflow ${uri.fsPath} is not valid JSON: ${e instanceof Error ? e.message : e}`);
    }
  }

  async generate(values: GenerationValues, options: GenerateOptions): Promise<StagedImages> {
    const template = await this.loadTemplate(options.resource);
    await this._ensureCheckpoint();
    const objectInfo = await this._backend.objectInfo();
    let v = values;
    if (v.checkpoint === undefined) {
      const list = objectInfo.CheckpointLoaderSimple?.input.required?.ckpt_name?.[0];
      const substitute = substituteCheckpoint(template, Array.isArray(list) ? list.map(String) : []);
      if (substitute) {
        // Said once per substitution, not on every generation.
        const note = `The workflow's checkpoint is not installed; Generate Image uses ${substitute}`;
        if (!this._said.has(note)) {
          this._said.add(note);
          this._log.info(note);
        }
        v = { ...v, checkpoint: substitute };
      }
    }
    // The demo model was trained at 64×64 on caption words only; the workflow's 512×512 and its
    // negative prompt would draw worse pictures with it (values the caller gave are kept).
    if (v.checkpoint === DEMO_CHECKPOINT) v = demoModelValues(v);
    const lastSeed = this._state.get<number>(LAST_SEED_KEY);
    const filled = fillTemplate(template, v, lastSeed);
    const { prompt, warnings } = uiToApi(filled.workflow as unknown as UiWorkflow, objectInfo);
    for (const w of warnings) this._log.warn(`Generate: ${w}`);
    const run = await this._backend.queue(prompt, {
      extraData: { extra_pnginfo: { workflow: filled.workflow } },
      observers: options.observers,
    });
    await this._state.update(LAST_SEED_KEY, filled.seed);
    this._log.info(`Generate: queued ${run.promptId} with seed ${filled.seed}`);
    const cancel = options.token?.onCancellationRequested(() => {
      void this._backend.interrupt(run.promptId);
    });
    try {
      const result = await run.done;
      const config = this._settings.backendConfig();
      const files = result.images
        .filter((i) => i.type === 'output')
        .map((i) => stagedUri(config.outputDir, i));
      if (files.length === 0) throw new Error('The workflow finished without saving an image (no SaveImage output)');
      return { files, seed: filled.seed };
    } finally {
      cancel?.dispose();
    }
  }
}

function stagedUri(outputDir: string, image: OutputImage): vscode.Uri {
  const sub = image.subfolder.split(/[\\/]/).filter(Boolean);
  if (sub.includes('..') || image.filename.includes('/') || image.filename.includes('\\')) {
    throw new Error(`Backend reported an image outside its output folder: ${image.subfolder}/${image.filename}`);
  }
  return vscode.Uri.file(path.join(outputDir, ...sub, image.filename));
}

/** The outcome of a generation after the files were moved into the workspace. */
export interface GenerationOutcome {
  images: vscode.Uri[];
  seed: number;
  /** The text inserted into the target document, when there was one. */
  inserted?: string;
}

/** Images a generation saved into the workspace, with what made them (for the gallery). */
export interface GeneratedImages {
  images: vscode.Uri[];
  seed: number;
  values: GenerationValues;
}

/** Runs a generator, moves its images into `folder` and inserts references at `insertInto`. */
export class GenerationService {
  private readonly _onDidGenerate = new vscode.EventEmitter<GeneratedImages>();
  /** Fires after every successful generation, whichever command or view started it. */
  readonly onDidGenerate = this._onDidGenerate.event;

  constructor(public generator: ImageGenerator, private readonly _log: vscode.LogOutputChannel) {}

  dispose(): void {
    this._onDidGenerate.dispose();
  }

  async run(
    values: GenerationValues,
    folder: vscode.Uri,
    options: GenerateOptions & { insertInto?: InsertionTarget },
  ): Promise<GenerationOutcome> {
    const staged = await this.generator.generate(values, options);
    const images: vscode.Uri[] = [];
    for (const f of staged.files) images.push(await moveIntoWorkspace(f, folder));
    this._log.info(`Generate: saved ${images.map((i) => i.fsPath).join(', ')}`);
    // Before the insertion: the files exist now, whatever happens to the target document.
    if (images.length > 0) this._onDidGenerate.fire({ images, seed: staged.seed, values });
    let inserted: string | undefined;
    if (options.insertInto && images.length > 0) {
      const t = options.insertInto;
      const alt = altTextFromPrompt(values.prompt);
      // Several images: each reference on its own line, all in one undoable edit.
      const eol = t.document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
      inserted = (t.separator ?? '') + images.map((img) => referenceText(t.document, img, alt)).join(eol);
      const edit = new vscode.WorkspaceEdit();
      edit.replace(t.document.uri, t.range, inserted);
      if (!(await vscode.workspace.applyEdit(edit))) {
        throw new Error(`Could not insert the image reference into ${t.document.uri.fsPath}`);
      }
    }
    return { images, seed: staged.seed, inserted };
  }
}
