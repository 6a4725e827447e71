// A new user has no Stable Diffusion model, and a generation would only fail with "checkpoint not
// found". Before a generation or run, when the backend lists no checkpoint, this offers the ways
// forward in one notification (not modal: the user may want to read the README first): pick a
// models folder, create the untrained demo model in global storage and go on, or read how to get
// a real model.
import * as vscode from 'vscode';
import path from 'node:path';
import type { BackendSupervisor } from './backend';
import { checkpointsIn, demoModelDir, runModelGenerator } from './demoModelSupport';
import { UserFacingError } from './failableCommand';
import type { MarbleSettings } from './settings';
import { selectModelsFolder } from './workflowCommands';

export const CHOICE_SELECT_FOLDER = 'Select Models Folder';
export const CHOICE_CREATE_DEMO = 'Create Demo Model (untrained)';
export const CHOICE_HOW_TO = 'How to get a model';

export const NO_MODEL_MESSAGE =
  'Marble found no Stable Diffusion model. The demo model runs the whole pipeline but is untrained: its images are structured noise.';

/** Shows the offer and resolves with the chosen item's title (undefined when dismissed). */
export type OfferPrompt = (message: string, ...items: string[]) => Thenable<string | undefined>;

export class MissingModelOffer {
  /** The notification (a test replaces it to choose without a person). */
  prompt: OfferPrompt = (message, ...items) => vscode.window.showInformationMessage(message, ...items);
  /** One offer at a time: a second generation asked for meanwhile waits for the same answer. */
  private _pending: Promise<void> | undefined;

  constructor(
    private readonly _backend: BackendSupervisor,
    private readonly _settings: MarbleSettings,
    private readonly _extensionUri: vscode.Uri,
    private readonly _log: vscode.LogOutputChannel,
  ) {}

  /**
   * Resolves when a checkpoint is installed (at once, or after the user created or selected one).
   * Throws CancellationError when the user chose not to go on, so the command ends quietly.
   */
  async ensureCheckpoint(): Promise<void> {
    if (checkpointsIn(await this._backend.objectInfo()).length > 0) return;
    this._pending ??= this._offer().finally(() => { this._pending = undefined; });
    return this._pending;
  }

  private async _offer(): Promise<void> {
    const choice = await this.prompt(NO_MODEL_MESSAGE, CHOICE_SELECT_FOLDER, CHOICE_CREATE_DEMO, CHOICE_HOW_TO);
    if (choice === CHOICE_CREATE_DEMO) {
      await this.createDemoModel();
      await this._requireCheckpoint(`the demo model was created in ${demoModelDir(this._settings.globalStorageModels())}`);
      return;
    }
    if (choice === CHOICE_SELECT_FOLDER) {
      const folders = await selectModelsFolder();
      if (!folders) throw new vscode.CancellationError();
      await this._backend.reconfigure();
      await this._requireCheckpoint(`${folders[0]} was added to marble.modelsFolders`);
      return;
    }
    if (choice === CHOICE_HOW_TO) await this.openModelsReadme();
    throw new vscode.CancellationError();
  }

  /** After the user acted: the backend must now list a checkpoint, else say what is still missing. */
  private async _requireCheckpoint(what: string): Promise<void> {
    this._backend.forgetObjectInfo();
    if (checkpointsIn(await this._backend.objectInfo()).length > 0) return;
    throw new UserFacingError(
      `Marble: ${what}, but still no checkpoint is installed. A models folder needs checkpoints/<name>/ holding an ONNX pipeline (model_index.json, unet/model.onnx, …).`,
      [{ title: CHOICE_HOW_TO, command: 'marble.showModelsHelp' }],
    );
  }

  /**
   * Generates the demo model into `<globalStorage>/models` with the bundled generator, in a child
   * process run like the backend (VS Code's binary as Node), under a cancellable progress.
   */
  async createDemoModel(): Promise<string> {
    const root = this._settings.globalStorageModels();
    const script = path.join(this._extensionUri.fsPath, 'dist', 'modelgen.js');
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Marble: creating the untrained demo model', cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'generating ONNX weights (structured-noise images, a few seconds)…' });
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        const started = Date.now();
        try {
          const dir = await runModelGenerator({
            execPath: process.execPath,
            scriptArgs: [script],
            modelsRoot: root,
            env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
            cwd: this._extensionUri.fsPath,
            onLine: (l) => this._log.info(`[modelgen] ${l}`),
            signal: abort.signal,
          });
          this._log.info(`Demo model ready in ${dir} (${Date.now() - started} ms)`);
          return dir;
        } catch (e) {
          if (abort.signal.aborted) throw new vscode.CancellationError();
          throw e;
        } finally {
          sub.dispose();
        }
      },
    );
  }

  /**
   * The models guide shipped with the extension (media/docs/models.md: what works, where files
   * go), as a Markdown preview: a page for users, not the developer README. No network needed.
   */
  async openModelsReadme(): Promise<void> {
    const guide = vscode.Uri.joinPath(this._extensionUri, 'media', 'docs', 'models.md');
    await vscode.commands.executeCommand('markdown.showPreview', guide).then(undefined, async (e: unknown) => {
      // Without the built-in Markdown extension, the text itself still says it.
      this._log.warn(`Markdown preview of the models guide: ${e instanceof Error ? e.message : e}`);
      await vscode.window.showTextDocument(guide, { preview: true });
    });
  }
}
