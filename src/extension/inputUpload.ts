// The graph editor's upload button, host side: the picked file is copied into the input folder
// through workspace.fs (so remote and virtual file systems work), under the name ComfyUI's
// /upload/image would choose.
import * as vscode from 'vscode';
import { chooseUploadName } from './inputFolder';

/** File names directly inside the input folder; none when it does not exist yet. */
export async function listInputFolder(folder: vscode.Uri): Promise<string[]> {
  try {
    // stat first: VS Code logs every failed readDirectory, and a missing folder is normal here.
    if (((await vscode.workspace.fs.stat(folder)).type & vscode.FileType.Directory) === 0) return [];
    return (await vscode.workspace.fs.readDirectory(folder)).filter(([, t]) => (t & vscode.FileType.File) !== 0).map(([n]) => n);
  } catch {
    return [];
  }
}

async function readIfExists(uri: vscode.Uri): Promise<Uint8Array | undefined> {
  try {
    return await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') return undefined;
    throw e;
  }
}

/**
 * Copies `source` into `folder`: a new free name, or the existing file when it has the same
 * bytes. Written to a temporary name and renamed, so LoadImage never reads half a file.
 */
export async function copyIntoInputFolder(source: vscode.Uri, folder: vscode.Uri): Promise<{ name: string; reuse: boolean }> {
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(source);
  } catch (e) {
    throw new Error(`Upload: cannot read ${source.fsPath}: ${e instanceof Error ? e.message : e}`);
  }
  const fileName = source.path.split('/').pop() ?? 'image.png';
  const chosen = await chooseUploadName(fileName, bytes, (n) => readIfExists(vscode.Uri.joinPath(folder, n)));
  if (chosen.reuse) return chosen;
  await vscode.workspace.fs.createDirectory(folder);
  const tmp = vscode.Uri.joinPath(folder, `.${chosen.name}.${process.pid}.${Date.now()}.tmp`);
  await vscode.workspace.fs.writeFile(tmp, bytes);
  try {
    await vscode.workspace.fs.rename(tmp, vscode.Uri.joinPath(folder, chosen.name), { overwrite: false });
  } catch (e) {
    await vscode.workspace.fs.delete(tmp).then(undefined, () => undefined);
    throw new Error(`Upload: cannot save ${chosen.name} in ${folder.fsPath}: ${e instanceof Error ? e.message : e}`);
  }
  return chosen;
}
