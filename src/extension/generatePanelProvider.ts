// The "Generate" view in Marble's activity-bar container: a form (prompt, model, size, sampler,
// seed) and a gallery of what this workspace generated. It builds the default workflow with the
// form's values through the same GenerationService as the Generate Image command.
import * as vscode from 'vscode';
import path from 'node:path';
import { loadCoreCatalog } from '../workflow/catalog/catalog';
import { comboOptions } from '../workflow/catalog/widgets';
import type { ObjectInfo } from '../workflow/objectInfo';
import {
  isPanelMessage, WEBVIEW_PROTOCOL_VERSION, type GalleryItem, type GenerateParams, type HostToPanel, type PanelToHost,
} from '../protocol/webview';
import type { BackendSupervisor } from './backend';
import { activeInsertionTarget, referenceText } from './assetStore';
import { altTextFromPrompt } from './assetReference';
import { errorMessage, reportError, requireTrust, UserFacingError } from './failableCommand';
import type { GeneratedImages, GenerationService } from './generation';
import { PromptRunError } from './promptRun';
import { applyControl, RANDOM_SEED_LIMIT, SEED_RANGE } from './seedControl';
import type { MarbleSettings } from './settings';
import { webviewHtml, webviewOptions } from './webviewSupport';

export const GENERATE_VIEW_ID = 'marble.generate';
const GALLERY_KEY = 'marble.gallery';
const PARAMS_KEY = 'marble.panelParams';
const MAX_GALLERY = 60;

interface StoredItem {
  path: string;
  prompt?: string;
  seed?: number;
  width?: number;
  height?: number;
  createdAt?: number;
}

function comboList(info: ObjectInfo, node: string, input: string): string[] {
  const spec = info[node]?.input.required?.[input];
  return (comboOptions(spec) ?? []).map(String);
}

export class GeneratePanelProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private _view: vscode.WebviewView | undefined;
  private _initialised = false;
  private readonly _taps = new Set<(m: HostToPanel) => void>();
  private readonly _generated: vscode.Disposable;
  /** Serialises gallery writes: two generations finishing together must not drop one's images. */
  private _galleryWrites: Promise<void> = Promise.resolve();

  constructor(
    private readonly _context: vscode.ExtensionContext,
    private readonly _backend: BackendSupervisor,
    private readonly _service: GenerationService,
    private readonly _settings: MarbleSettings,
    private readonly _log: vscode.LogOutputChannel,
    private readonly _imageRoots: () => vscode.Uri[],
  ) {
    // Every generation lands in the gallery: this view's own and the Generate Image commands'.
    this._generated = _service.onDidGenerate((g) => {
      this._galleryWrites = this._galleryWrites.then(() => this._addToGallery(g))
        .catch((e) => this._log.warn(`Gallery: ${errorMessage(e)}`));
    });
  }

  dispose(): void {
    this._generated.dispose();
  }

  private async _addToGallery(g: GeneratedImages): Promise<void> {
    const now = Date.now();
    const { prompt, width, height } = g.values;
    const stored: StoredItem[] = g.images.map((u) => ({ path: u.fsPath, prompt, seed: g.seed, width, height, createdAt: now }));
    const previous = this._context.workspaceState.get<StoredItem[]>(GALLERY_KEY, [])
      .filter((p) => !stored.some((s) => s.path === p.path));
    await this._context.workspaceState.update(GALLERY_KEY, [...stored, ...previous].slice(0, MAX_GALLERY));
    if (this._view && this._initialised) this._post({ type: 'gallery', items: await this._gallery() });
  }

  /** Resolves once the gallery holds every generation that finished so far. */
  galleryWritten(): Promise<void> {
    return this._galleryWrites;
  }

  static register(provider: GeneratePanelProvider): vscode.Disposable {
    return vscode.window.registerWebviewViewProvider(GENERATE_VIEW_ID, provider);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this._view = view;
    this._initialised = false;
    view.webview.options = webviewOptions(this._context.extensionUri, 'panel', this._imageRoots());
    view.webview.html = webviewHtml(view.webview, this._context.extensionUri, 'panel');
    const sub = view.webview.onDidReceiveMessage((m: unknown) => void this._receive(m));
    view.onDidDispose(() => {
      sub.dispose();
      if (this._view === view) this._view = undefined;
    });
  }

  /** Every message of the page goes through here: checked against the protocol, then handled. */
  private async _receive(m: unknown): Promise<void> {
    if (!isPanelMessage(m)) {
      this._log.warn(`Generate panel: ignored an invalid message ${JSON.stringify(m)?.slice(0, 200)}`);
      return;
    }
    await this._onMessage(m).catch((e) => void reportError(this._log, `generate panel (${m.type})`, e));
  }

  /** Whether the view is resolved and its page has completed the ready → init handshake. */
  get ready(): boolean {
    return this._view !== undefined && this._initialised;
  }

  /** Test hook: handles `message` as if the page had posted it; resolves once it was handled. */
  receiveForTest(message: unknown): Promise<void> {
    if (!this._view) return Promise.reject(new Error('The Marble Generate view is not open'));
    return this._receive(message);
  }

  /** Test hook: sees every message posted to the page. */
  tapForTest(listener: (m: HostToPanel) => void): vscode.Disposable {
    this._taps.add(listener);
    return new vscode.Disposable(() => this._taps.delete(listener));
  }

  private _post(m: HostToPanel): void {
    for (const t of this._taps) t(m);
    void this._view?.webview.postMessage(m);
  }

  private async _onMessage(m: PanelToHost): Promise<void> {
    switch (m.type) {
      case 'ready': return this._init();
      case 'generate': return this._generate(m);
      case 'interrupt': return this._backend.interrupt();
      case 'galleryAction': return this._galleryAction(m.action, m.path);
    }
  }

  private async _catalog(): Promise<ObjectInfo> {
    // Model lists need the backend; in Restricted Mode it must not start, so the form shows the
    // static sampler lists and an empty model list.
    if (vscode.workspace.isTrusted) {
      try {
        return await this._backend.objectInfo();
      } catch (e) {
        this._log.warn(`Generate panel: backend object_info failed, using the static catalogue: ${errorMessage(e)}`);
      }
    }
    return loadCoreCatalog();
  }

  private async _init(): Promise<void> {
    const info = await this._catalog();
    const models = comboList(info, 'CheckpointLoaderSimple', 'ckpt_name');
    const samplers = comboList(info, 'KSampler', 'sampler_name');
    const schedulers = comboList(info, 'KSampler', 'scheduler');
    const saved = this._context.workspaceState.get<Partial<GenerateParams>>(PARAMS_KEY, {});
    const defaults: GenerateParams = {
      prompt: '', negative: 'text, watermark', model: models[0] ?? '', width: 512, height: 512, steps: 20, cfg: 8,
      sampler: samplers.includes('euler') ? 'euler' : (samplers[0] ?? 'euler'),
      scheduler: schedulers.includes('normal') ? 'normal' : (schedulers[0] ?? 'normal'),
      seed: Math.floor(Math.random() * RANDOM_SEED_LIMIT), seedMode: 'randomize', batch: 1,
      ...saved,
    };
    if (!models.includes(defaults.model)) defaults.model = models[0] ?? '';
    this._post({ type: 'init', version: WEBVIEW_PROTOCOL_VERSION, models, samplers, schedulers, defaults, gallery: await this._gallery() });
    this._initialised = true;
  }

  private async _gallery(): Promise<GalleryItem[]> {
    const webview = this._view?.webview;
    const items: GalleryItem[] = [];
    for (const s of this._context.workspaceState.get<StoredItem[]>(GALLERY_KEY, [])) {
      const uri = vscode.Uri.file(s.path);
      try {
        await vscode.workspace.fs.stat(uri);
      } catch {
        continue; // deleted since: drop it from the view
      }
      items.push({ ...s, filename: path.basename(s.path), uri: webview ? webview.asWebviewUri(uri).toString() : uri.toString() });
    }
    return items;
  }

  private async _generate(params: GenerateParams): Promise<void> {
    requireTrust('Generate');
    const folder = this._settings.outputFolderFor(vscode.window.activeTextEditor?.document.uri);
    if (!folder) throw new UserFacingError('Marble: open a folder first; generated images are saved into the workspace.');
    const { prompt, negative, model, width, height, steps, cfg, sampler, scheduler, seed, seedMode, batch } = params;
    await this._context.workspaceState.update(PARAMS_KEY, { negative, model, width, height, steps, cfg, sampler, scheduler, seedMode, batch });
    this._post({ type: 'status', state: 'queued' });
    try {
      const outcome = await this._service.run({
        prompt, negative, checkpoint: model || undefined, width, height, batchSize: batch, steps, cfg, sampler, scheduler, seed,
      }, folder, {
        observers: [{
          executing: (node) => { if (node !== null) this._post({ type: 'status', state: 'running' }); },
          progress: (value, max, node) => this._post({ type: 'progress', value, max, node }),
          preview: (_node, format, data) => this._post({ type: 'preview', dataUrl: `data:image/${format};base64,${data}` }),
        }],
      });
      // The gallery itself was updated by onDidGenerate; this shows the result at once.
      await this._galleryWrites;
      const now = Date.now();
      const stored: StoredItem[] = outcome.images.map((u) => ({ path: u.fsPath, prompt, seed: outcome.seed, width, height, createdAt: now }));
      const webview = this._view?.webview;
      const images = stored.map((s) => ({
        ...s, filename: path.basename(s.path), uri: webview ? webview.asWebviewUri(vscode.Uri.file(s.path)).toString() : s.path,
      }));
      // ComfyUI semantics: the run used the seed shown, the field then shows the next one.
      this._post({ type: 'result', images, nextSeed: applyControl(seedMode, outcome.seed, SEED_RANGE) });
      this._post({ type: 'status', state: 'done' });
    } catch (e) {
      // Declining the no-model offer is a choice like interrupting, not a failure to report.
      const interrupted = (e instanceof PromptRunError && e.kind === 'interrupted') || e instanceof vscode.CancellationError;
      this._post({ type: 'status', state: interrupted ? 'interrupted' : 'error', message: errorMessage(e) });
      if (!interrupted) throw e;
    }
  }

  private async _galleryAction(action: string, fsPath: string): Promise<void> {
    // The webview is untrusted input: act only on images this panel put in its gallery.
    const known = this._context.workspaceState.get<StoredItem[]>(GALLERY_KEY, []).find((s) => s.path === fsPath);
    if (!known) throw new Error(`Gallery action '${action}': ${fsPath} is not an image from the gallery`);
    const uri = vscode.Uri.file(fsPath);
    switch (action) {
      case 'insert': {
        const target = activeInsertionTarget('replace');
        if (!target) throw new UserFacingError('Marble: open a text editor to insert the image into.');
        const edit = new vscode.WorkspaceEdit();
        edit.replace(target.document.uri, target.range, referenceText(target.document, uri, altTextFromPrompt(known.prompt ?? path.basename(fsPath))));
        await vscode.workspace.applyEdit(edit);
        return;
      }
      case 'open': await vscode.commands.executeCommand('vscode.open', uri); return;
      case 'reveal': await vscode.commands.executeCommand('revealInExplorer', uri); return;
      case 'copyPath': await vscode.env.clipboard.writeText(vscode.workspace.asRelativePath(uri)); return;
      case 'openAsWorkflow': await vscode.commands.executeCommand('marble.openPngAsWorkflow', uri); return;
    }
  }

  /** Re-sends init (after settings or model folders change). */
  refresh(): void {
    if (this._view) void this._init().catch((e) => this._log.warn(`Generate panel refresh: ${errorMessage(e)}`));
  }
}
