// Moves generated images from the backend's staging folder into the workspace, and inserts a
// reference to them into a document. Files go through `workspace.fs` (remote and virtual file
// systems, Explorer refresh) and are written under a temp name then renamed, so neither the
// Explorer nor a watcher ever sees half a PNG.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { assetReferenceFor, relativePath } from './assetReference';
import { nextSaveCounter, parseSaveName, saveName } from '../workflow/saveCounter';

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** `name.png`, or `name_1.png`, `name_2.png`, … — the first that does not exist in `folder`. */
export async function freeFileName(folder: vscode.Uri, fileName: string): Promise<vscode.Uri> {
  const ext = path.extname(fileName);
  const base = fileName.slice(0, fileName.length - ext.length);
  for (let i = 0; i < 10_000; i++) {
    const candidate = vscode.Uri.joinPath(folder, i === 0 ? fileName : `${base}_${i}${ext}`);
    if (!(await exists(candidate))) return candidate;
  }
  throw new Error(`No free file name for ${fileName} in ${folder.fsPath}`);
}

/** Writes `bytes` to a free name in `folder`, atomically (temp file then rename). */
export async function writeFileAtomically(folder: vscode.Uri, fileName: string, bytes: Uint8Array): Promise<vscode.Uri> {
  await vscode.workspace.fs.createDirectory(folder);
  const target = await freeFileName(folder, fileName);
  const tmp = vscode.Uri.joinPath(folder, `.${path.basename(target.path)}.${randomBytes(4).toString('hex')}.tmp`);
  await vscode.workspace.fs.writeFile(tmp, bytes);
  try {
    await vscode.workspace.fs.rename(tmp, target, { overwrite: false });
  } catch (e) {
    await vscode.workspace.fs.delete(tmp).then(undefined, () => undefined);
    throw e;
  }
  return target;
}

/**
 * The name a staged image gets in `folder`: a SaveImage name is renumbered with ComfyUI's
 * counter over what `folder` holds (the backend counts in its own, emptied, staging folder),
 * so the second image is `ComfyUI_00002_.png` as the CLI would name it. Other names are kept.
 */
export async function workspaceImageName(folder: vscode.Uri, stagedName: string): Promise<string> {
  const parsed = parseSaveName(stagedName);
  if (!parsed) return stagedName;
  let entries: string[] = [];
  try {
    entries = (await vscode.workspace.fs.readDirectory(folder)).map(([name]) => name);
  } catch {
    // No folder yet: the first image.
  }
  return saveName(parsed.filename, nextSaveCounter(entries, parsed.filename, process.platform === 'win32'), parsed.tail);
}

/** Copies a staged image into `folder` and removes the staged copy. */
export async function moveIntoWorkspace(staged: vscode.Uri, folder: vscode.Uri): Promise<vscode.Uri> {
  const bytes = await vscode.workspace.fs.readFile(staged);
  const target = await writeFileAtomically(folder, await workspaceImageName(folder, path.basename(staged.path)), bytes);
  await vscode.workspace.fs.delete(staged).then(undefined, () => undefined);
  return target;
}

/** Where to insert a reference: a document and a range (replaced; empty = insert). */
export interface InsertionTarget {
  document: vscode.TextDocument;
  range: vscode.Range;
  /** Put before the reference (a line break when it goes after a selected prompt). */
  separator?: string;
}

/** The insertion target of the active text editor (its primary selection), if any. */
export function activeInsertionTarget(mode: 'replace' | 'after'): InsertionTarget | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const sel = editor.selection;
  if (mode === 'replace') return { document: editor.document, range: sel };
  const eol = editor.document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
  return { document: editor.document, range: new vscode.Range(sel.end, sel.end), separator: eol };
}

/** The reference text for `image` in `document` (path relative to the document's folder). */
export function referenceText(document: vscode.TextDocument, image: vscode.Uri, alt: string): string {
  if (document.uri.scheme === 'untitled' || document.uri.scheme !== image.scheme) {
    // No folder to be relative to: use the workspace-relative path, which is what a reader expects.
    const folder = vscode.workspace.getWorkspaceFolder(image);
    const rel = folder ? relativePath(folder.uri.path, image.path) : image.fsPath;
    return assetReferenceFor(document.languageId, '/__root__/doc', `/__root__/${rel}`, alt);
  }
  return assetReferenceFor(document.languageId, document.uri.path, image.path, alt);
}
