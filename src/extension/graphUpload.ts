// The graph editor's upload button (LoadImage's `image`, any input with `image_upload`): pick an
// image, copy it into the input folder, refresh the input lists of every page under that folder,
// then set the widget to the file in one edit (one undo step). The provider owns the pages and
// the edit path; this module owns the upload's rules.
import * as vscode from 'vscode';
import { specOptions, widgetNamesFor } from '../workflow/catalog/widgets';
import { IMAGE_EXTENSIONS } from '../inference/image/inputFiles';
import { UserFacingError } from './failableCommand';
import { inputCombos, inputListing, withInputFiles } from './inputFolder';
import { copyIntoInputFolder, listInputFolder } from './inputUpload';
import type { EditorSession } from './workflowEditorSession';
import { parseJsonText } from './workflowText';

export type OpenDialog = (options: vscode.OpenDialogOptions) => Thenable<vscode.Uri[] | undefined>;

/** What an upload needs from the editor provider. */
export interface UploadHost {
  readonly openDialog: OpenDialog;
  readonly log: vscode.LogOutputChannel;
  /** The input folder for a document; undefined without a workspace folder. */
  inputFolder(resource: vscode.Uri): vscode.Uri | undefined;
  /** The open graph pages. */
  sessions(): Iterable<EditorSession>;
  /** The backend's cached object_info lists the input folder: it must be read again. */
  forgetObjectInfo(): void;
  applyWorkflowEdit(document: vscode.TextDocument, workflow: Record<string, unknown>): Promise<boolean>;
}

/** Handles the page's `upload` message for input `widget` of node `nodeId`. */
export async function uploadIntoWidget(host: UploadHost, session: EditorSession, nodeId: string, widget: string): Promise<void> {
  const document = session.document;
  if (document.uri.scheme === 'git') throw new UserFacingError('Marble: this workflow is read-only.');
  const folder = host.inputFolder(document.uri);
  if (!folder) throw new UserFacingError('Marble: open a folder first; uploaded images are copied into its input folder.');
  const parsed = parseJsonText(document.getText());
  if (!parsed.ok) throw new Error(`Upload: the workflow is not valid JSON (${parsed.message})`);
  const workflow = parsed.value as { nodes?: Array<{ id: unknown; type?: unknown; widgets_values?: unknown }> };
  const node = workflow.nodes?.find((n) => String(n.id) === nodeId);
  if (!node) throw new Error(`Upload: node #${nodeId} is not in ${document.uri.fsPath}`);
  const schema = typeof node.type === 'string' ? session.objectInfo[node.type] : undefined;
  const spec = schema?.input.required?.[widget] ?? schema?.input.optional?.[widget];
  if (!schema || !spec || specOptions(spec).image_upload !== true) {
    throw new Error(`Upload: input '${widget}' of node #${nodeId} (${String(node.type)}) does not take uploads`);
  }
  const picked = await host.openDialog({
    canSelectFiles: true, canSelectFolders: false, canSelectMany: false, openLabel: 'Upload',
    title: `Copy an image into ${vscode.workspace.asRelativePath(folder)}`,
    filters: { Images: [...IMAGE_EXTENSIONS].map((e) => e.slice(1)) },
  });
  if (!picked?.length) return;
  const { name, reuse } = await copyIntoInputFolder(picked[0]!, folder);
  host.log.info(`Upload: ${picked[0]!.fsPath} → ${name}${reuse ? ' (identical file already there)' : ''}`);
  host.forgetObjectInfo();
  await sendInputListing(host, folder);

  const index = widgetNamesFor(schema).indexOf(widget);
  const values = Array.isArray(node.widgets_values) ? [...node.widgets_values] : [];
  values[index] = name;
  node.widgets_values = values;
  await host.applyWorkflowEdit(document, workflow as Record<string, unknown>);
}

/** Sends the input folder's current files to every page whose document lives under it. */
export async function sendInputListing(host: UploadHost, folder: vscode.Uri): Promise<void> {
  const files = await listInputFolder(folder);
  for (const s of host.sessions()) {
    if (!s.ready || host.inputFolder(s.document.uri)?.toString() !== folder.toString()) continue;
    const combos = inputCombos(s.objectInfo);
    s.objectInfo = withInputFiles(s.objectInfo, files);
    for (const c of combos) {
      const values = inputListing(files, c.filter);
      s.post({ type: 'comboValues', classType: c.classType, input: c.input, values });
    }
  }
}
