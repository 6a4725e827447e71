// A new user has no Stable Diffusion model, and a generation would only fail with "checkpoint not
// found". Before a generation or run, when the backend lists no checkpoint, this offers the ways
// forward in one notification (not modal: the user may want to read the README first): pick a
// models folder, install the bundled tiny shapes model (a small trained checkpoint that draws
// simple coloured shapes at 64×64) in global storage and go on, or read how to get a real model.
import * as vscode from 'vscode';
import type { BackendSupervisor } from './backend';
import { checkpointsIn, demoModelFile, installDemoModel } from './demoModelSupport';
import { DEMO_MODEL } from '../workflow/demoModel';
import { UserFacingError } from './failableCommand';
import type { MarbleSettings } from './settings';
import { selectModelsFolder } from './workflowCommands';

export const CHOICE_SELECT_FOLDER = 'Select Models Folder';
export const CHOICE_CREATE_DEMO = 'Use Demo Model (shapes only)';
export const CHOICE_HOW_TO = 'How to get a model';

export const NO_MODEL_MESSAGE =
  `Marble found no Stable Diffusion model. The built-in demo model is a tiny model trained on simple shapes: it draws 64×64 prompts like "${DEMO_MODEL.examplePrompt}", nothing else.`;

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
      await this._requireCheckpoint(`the demo model was installed as ${demoModelFile(this._settings.globalStorageModels())}`);
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
      `Marble: ${what}, but still no checkpoint is installed. A models folder needs checkpoints/ holding a .safetensors checkpoint or an ONNX pipeline folder (model_index.json, unet/model.onnx, …).`,
      [{ title: CHOICE_HOW_TO, command: 'marble.showModelsHelp' }],
    );
  }

  /**
   * Installs the bundled demo model into `<globalStorage>/models/checkpoints/` (a copy of a
   * ~17 MB file; the conversion to ONNX happens on its first use, like any .safetensors checkpoint).
   */
  async createDemoModel(): Promise<string> {
    const root = this._settings.globalStorageModels();
    const { file, copied } = installDemoModel(this._extensionUri.fsPath, root);
    this._log.info(copied ? `Demo model installed as ${file}` : `Demo model already installed as ${file}`);
    return file;
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
