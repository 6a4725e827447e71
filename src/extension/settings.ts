// Marble's settings as the rest of the extension needs them, with the Restricted Mode rules of
// settingsResolution applied (workspace values of path settings are ignored when untrusted).
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ConfigureParams } from '../protocol/inference';
import {
  checkExecutionProvider, checkInputFolder, checkOutputFolder, effectiveSetting, resolveModelsFolders,
} from './settingsResolution';

const SECTION = 'marble';

export class MarbleSettings {
  constructor(private readonly _context: vscode.ExtensionContext) {}

  private _layers<T>(key: string, scope?: vscode.Uri) {
    return vscode.workspace.getConfiguration(SECTION, scope).inspect<T>(key);
  }

  get testMode(): boolean {
    return process.env.MARBLE_TEST_MODE === '1';
  }

  /**
   * Test hook: replaces every models root except global storage (the setting, MARBLE_MODELS and
   * the extension's own `models/`), so a test can see Marble as a user without models does.
   */
  modelsRootsOverride: string[] | undefined;

  /** `<globalStorage>/models`: always searched, and where the demo model is created. */
  globalStorageModels(): string {
    return path.join(this._context.globalStorageUri.fsPath, 'models');
  }

  /** Folders with ComfyUI-style model sub-folders, configured ones first. */
  modelsFolders(): string[] {
    if (this.modelsRootsOverride) return [...new Set([...this.modelsRootsOverride, this.globalStorageModels()])];
    const extensionModels = path.join(this._context.extensionUri.fsPath, 'models');
    return resolveModelsFolders({
      setting: this._layers<unknown>('modelsFolders'),
      trusted: vscode.workspace.isTrusted,
      globalStorageModels: this.globalStorageModels(),
      extensionModels: existsSync(extensionModels) ? extensionModels : undefined,
      testMode: this.testMode,
      envModels: process.env.MARBLE_MODELS,
      delimiter: path.delimiter,
    });
  }

  /** The workspace folder a resource belongs to, else the first one. */
  workspaceFolderFor(resource?: vscode.Uri): vscode.WorkspaceFolder | undefined {
    return (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
  }

  /** Where generated images go for `resource`'s workspace folder; undefined without a workspace. */
  outputFolderFor(resource?: vscode.Uri): vscode.Uri | undefined {
    const folder = this.workspaceFolderFor(resource);
    if (!folder) return undefined;
    const rel = checkOutputFolder(effectiveSetting(this._layers<string>('outputFolder', folder.uri), vscode.workspace.isTrusted, 'assets/generated'));
    return rel === '.' ? folder.uri : vscode.Uri.joinPath(folder.uri, ...rel.split('/'));
  }

  /**
   * The folder LoadImage reads and the graph's upload button writes (`marble.inputFolder`, as
   * ComfyUI's `input/`); undefined without a workspace.
   */
  inputFolderFor(resource?: vscode.Uri): vscode.Uri | undefined {
    const folder = this.workspaceFolderFor(resource);
    if (!folder) return undefined;
    const rel = checkInputFolder(effectiveSetting(this._layers<string>('inputFolder', folder.uri), vscode.workspace.isTrusted, 'input'));
    return rel === '.' ? folder.uri : vscode.Uri.joinPath(folder.uri, ...rel.split('/'));
  }

  /** The user's template for Generate Image, or undefined for the bundled default graph. */
  defaultWorkflow(resource?: vscode.Uri): vscode.Uri | undefined {
    const folder = this.workspaceFolderFor(resource);
    const value = effectiveSetting(this._layers<string>('defaultWorkflow', folder?.uri), vscode.workspace.isTrusted, '');
    if (typeof value !== 'string' || value.trim() === '') return undefined;
    const p = value.trim();
    if (path.isAbsolute(p)) return vscode.Uri.file(p);
    if (!folder) throw new Error(`Setting marble.defaultWorkflow: "${p}" is relative but no workspace folder is open`);
    return vscode.Uri.joinPath(folder.uri, ...p.split(/[\\/]/));
  }

  previews(): boolean {
    return vscode.workspace.getConfiguration(SECTION).get<boolean>('previews', true) !== false;
  }

  /** Staging folders owned by the extension: the child writes here, the host moves files out. */
  stagingFolder(): vscode.Uri {
    return vscode.Uri.joinPath(this._context.globalStorageUri, 'staging');
  }

  /**
   * Where converted `.safetensors` models are cached: `marble.conversionCacheFolder` (an absolute
   * path, machine scope) or `<global storage>/conversion-cache`.
   */
  conversionCacheFolder(): string {
    const value = effectiveSetting(this._layers<string>('conversionCacheFolder'), vscode.workspace.isTrusted, '');
    if (typeof value !== 'string') throw new Error(`Setting marble.conversionCacheFolder: expected a folder path, got ${JSON.stringify(value)}`);
    const p = value.trim();
    if (p === '') return path.join(this._context.globalStorageUri.fsPath, 'conversion-cache');
    if (!path.isAbsolute(p)) throw new Error(`Setting marble.conversionCacheFolder: "${p}" must be an absolute folder path`);
    return p;
  }

  /** The `configure` message for the inference process. */
  backendConfig(): ConfigureParams {
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const staging = this.stagingFolder().fsPath;
    const budget = cfg.get<number>('memoryBudgetMB', 0);
    if (typeof budget !== 'number' || !(budget >= 0)) {
      throw new Error(`Setting marble.memoryBudgetMB: expected a number ≥ 0, got ${JSON.stringify(budget)}`);
    }
    // One backend serves the window, so the first workspace folder's input folder is the one
    // LoadImage sees; a virtual workspace (no file path) keeps the staging folder.
    const input = this.inputFolderFor();
    return {
      modelsRoots: this.modelsFolders(),
      outputDir: path.join(staging, 'output'),
      inputDir: input?.scheme === 'file' ? input.fsPath : path.join(staging, 'input'),
      tempDir: path.join(staging, 'temp'),
      ep: checkExecutionProvider(cfg.get('executionProvider', 'auto')),
      memoryBudgetMB: budget,
      previews: this.previews(),
      conversionCacheDir: this.conversionCacheFolder(),
    };
  }
}
