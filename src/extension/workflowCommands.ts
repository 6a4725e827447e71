// Commands around workflow files: New Workflow, Run Workflow, Open PNG as Workflow, and the
// settings helper Select Models Folder.
import * as vscode from 'vscode';
import path from 'node:path';
import { apiToUi } from '../workflow/apiToUi';
import { loadCoreCatalog } from '../workflow/catalog/catalog';
import { writeCanonicalWorkflow } from '../workflow/canonicalJson';
import { parseApiPrompt, parseUiWorkflow } from '../workflow/parse';
import { isPng, readPngMetadata } from '../workflow/png';
import type { UiWorkflow } from '../workflow/types';
import { freeFileName } from './assetStore';
import { requireTrust, UserFacingError } from './failableCommand';
import { WORKFLOW_VIEW_TYPE, type WorkflowEditorProvider } from './workflowEditorProvider';
import { WORKFLOW_SUFFIX, workflowFilePath } from './workflowFileName';

/** ComfyUI's default graph, in canonical form (what New Workflow starts from). */
export async function defaultWorkflowText(extensionUri: vscode.Uri): Promise<string> {
  const uri = vscode.Uri.joinPath(extensionUri, 'resources', 'workflows', 'default.workflow.json');
  const value = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8'));
  return writeCanonicalWorkflow(parseUiWorkflow(value));
}

export async function newWorkflow(extensionUri: vscode.Uri, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const text = await defaultWorkflowText(extensionUri);
  const folder = vscode.workspace.workspaceFolders?.[0];
  let uri = target;
  if (!uri && folder) {
    uri = await vscode.window.showSaveDialog({
      defaultUri: await freeFileName(folder.uri, `untitled${WORKFLOW_SUFFIX}`),
      filters: { 'Marble workflow': ['workflow.json'] },
      title: 'New Marble Workflow',
    });
    if (!uri) return undefined;
  }
  if (!uri) {
    // No workspace: an untitled document still opens in the graph editor.
    uri = vscode.Uri.from({ scheme: 'untitled', path: `Untitled-${Date.now()}${WORKFLOW_SUFFIX}` });
    await vscode.commands.executeCommand('vscode.openWith', uri, WORKFLOW_VIEW_TYPE);
    const doc = await vscode.workspace.openTextDocument(uri);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, new vscode.Position(0, 0), text);
    await vscode.workspace.applyEdit(edit);
    return doc.uri;
  }
  uri = uri.with({ path: workflowFilePath(uri.path) });
  const tmp = uri.with({ path: `${uri.path}.${process.pid}.tmp` });
  await vscode.workspace.fs.writeFile(tmp, Buffer.from(text, 'utf8'));
  await vscode.workspace.fs.rename(tmp, uri, { overwrite: true });
  await vscode.commands.executeCommand('vscode.openWith', uri, WORKFLOW_VIEW_TYPE);
  return uri;
}

/** Run Workflow: the given file, else the active Marble editor, else the active text editor. */
export async function runWorkflow(editors: WorkflowEditorProvider, uri?: vscode.Uri): Promise<void> {
  requireTrust('Run Workflow');
  let document: vscode.TextDocument | undefined;
  if (uri instanceof vscode.Uri) document = await vscode.workspace.openTextDocument(uri);
  document ??= editors.activeDocument();
  const active = vscode.window.activeTextEditor?.document;
  if (!document && active?.uri.path.endsWith(WORKFLOW_SUFFIX)) document = active;
  if (!document) throw new UserFacingError('Marble: open a .workflow.json file to run it.');
  await editors.runDocument(document);
}

/** The UI workflow stored in a ComfyUI PNG (its `workflow` chunk, else rebuilt from `prompt`). */
export function workflowFromPng(bytes: Uint8Array, name: string): UiWorkflow {
  if (!isPng(bytes)) throw new UserFacingError(`Marble: ${name} is not a PNG file.`);
  const meta = readPngMetadata(bytes);
  if (meta.workflow !== undefined) {
    try {
      return parseUiWorkflow(JSON.parse(meta.workflow));
    } catch (e) {
      throw new UserFacingError(`Marble: the workflow stored in ${name} is damaged: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (meta.prompt !== undefined) {
    return apiToUi(parseApiPrompt(JSON.parse(meta.prompt)), loadCoreCatalog()).workflow;
  }
  throw new UserFacingError(`Marble: ${name} carries no ComfyUI workflow (no "workflow" or "prompt" text chunk).`);
}

/**
 * Open as Workflow: asks where to save `<name>.workflow.json` (the workspace folder is offered,
 * not the PNG's asset folder), writes it and opens it in the graph editor. `target` skips the
 * question (tests, callers that know). Without a workspace it opens untitled.
 */
export async function openPngAsWorkflow(uri?: vscode.Uri, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  let png = uri instanceof vscode.Uri ? uri : undefined;
  if (!png) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'PNG images': ['png'] }, title: 'Open PNG as Workflow' });
    png = picked?.[0];
    if (!png) return undefined;
  }
  const name = path.posix.basename(png.path);
  const workflow = workflowFromPng(await vscode.workspace.fs.readFile(png), name);
  const text = writeCanonicalWorkflow(workflow);
  const base = name.replace(/\.png$/i, '');
  const folder = vscode.workspace.getWorkspaceFolder(png) ?? vscode.workspace.workspaceFolders?.[0];
  let dest = target;
  if (!dest && folder) {
    dest = await vscode.window.showSaveDialog({
      defaultUri: await freeFileName(folder.uri, `${base}${WORKFLOW_SUFFIX}`),
      filters: { 'Marble workflow': ['workflow.json'] },
      title: `Save the workflow of ${name} as`,
    });
    if (!dest) return undefined;
  }
  if (!dest) {
    dest = vscode.Uri.from({ scheme: 'untitled', path: `${base}${WORKFLOW_SUFFIX}` });
    const edit = new vscode.WorkspaceEdit();
    edit.insert(dest, new vscode.Position(0, 0), text);
    await vscode.workspace.applyEdit(edit);
  } else {
    dest = dest.with({ path: workflowFilePath(dest.path) });
    const tmp = dest.with({ path: `${dest.path}.${process.pid}.tmp` });
    await vscode.workspace.fs.writeFile(tmp, Buffer.from(text, 'utf8'));
    await vscode.workspace.fs.rename(tmp, dest, { overwrite: true });
  }
  await vscode.commands.executeCommand('vscode.openWith', dest, WORKFLOW_VIEW_TYPE);
  return dest;
}

/** Folder picker → `marble.modelsFolders` (user settings: a machine-scoped path). */
export async function selectModelsFolder(): Promise<string[] | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false, canSelectFolders: true, canSelectMany: false, title: 'Select a Models Folder (ComfyUI layout: checkpoints/, vae/, …)',
    openLabel: 'Use as Models Folder',
  });
  const folder = picked?.[0];
  if (!folder) return undefined;
  const cfg = vscode.workspace.getConfiguration('marble');
  const current = cfg.inspect<string[]>('modelsFolders')?.globalValue ?? [];
  const next = [folder.fsPath, ...current.filter((p) => p !== folder.fsPath)];
  await cfg.update('modelsFolders', next, vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Marble: models are now also read from ${folder.fsPath}`);
  return next;
}
