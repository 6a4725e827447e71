// Runs a `.workflow.json` document on the backend: UI → API prompt, queue, follow the events,
// move saved images into the workspace, and (like ComfyUI's "control after generate") advance
// seeds in the document once the prompt is queued.
import * as vscode from 'vscode';
import { VIRTUAL_NODE_TYPES, getCoreSchema } from '../workflow/catalog/catalog';
import { unsupportedNodeErrors } from '../workflow/catalog/support';
import { detectFormat, parseApiPrompt, parseUiWorkflow } from '../workflow/parse';
import type { UiWorkflow } from '../workflow/types';
import { uiToApi } from '../workflow/uiToApi';
import type { NodeErrors, RunState } from '../protocol/webview';
import { PromptRejectedError, type BackendSupervisor } from './backend';
import { moveIntoWorkspace } from './assetStore';
import {
  applyControlsAfterQueue, applyPendingControls, controlledValues, pendingFromChanges, type ControlledValue, type PendingControl,
} from './controlAfterGenerate';
import { requireTrust, UserFacingError } from './failableCommand';
import { PromptRunError, type PromptRun } from './promptRun';
import type { MarbleSettings } from './settings';
import { parseJsonText } from './workflowText';
import path from 'node:path';

/** Where a run reports to (the editors showing the document). */
export interface RunSink {
  status(state: RunState, message?: string): void;
  executing(node: string | null): void;
  progress(node: string, value: number, max: number): void;
  preview(node: string, dataUrl: string): void;
  executed(node: string, images: vscode.Uri[]): void;
  error(message: string, node?: string, nodeErrors?: NodeErrors): void;
  /** The values this run used for controlled widgets (seeds), once it is queued. */
  controlledValues?(values: ControlledValue[]): void;
}

/** Writes a changed workflow back into its document as one edit (the editor provider's path). */
export type WorkflowWriter = (document: vscode.TextDocument, workflow: Record<string, unknown>) => Promise<boolean>;

export class WorkflowRunner {
  /**
   * With `marble.seedControlWritesFile` off, each document's advanced control values (the next
   * seeds) live here instead of in the file, keyed by document URI. A widget the user changed in
   * the document since ("Keep seed", typing a seed) takes the document's value again.
   */
  private readonly _pending = new Map<string, Map<string, PendingControl>>();

  constructor(
    private readonly _backend: BackendSupervisor,
    private readonly _settings: MarbleSettings,
    private readonly _log: vscode.LogOutputChannel,
    private readonly _write: WorkflowWriter,
    /** Resolves once a checkpoint is installed (offering the demo model when none is). */
    private readonly _ensureCheckpoint: () => Promise<void> = async () => undefined,
  ) {}

  /** Queues the document's workflow; resolves when queued, with the run to await for the end. */
  async run(document: vscode.TextDocument, sink: RunSink): Promise<PromptRun> {
    requireTrust('Run Workflow');
    const parsed = parseJsonText(document.getText());
    if (!parsed.ok) {
      throw new UserFacingError(`Marble: ${path.basename(document.uri.path)} is not valid JSON (line ${parsed.line ?? '?'}): ${parsed.message}`);
    }
    const format = detectFormat(parsed.value);
    if (!format) throw new UserFacingError(`Marble: ${path.basename(document.uri.path)} is neither a ComfyUI workflow nor an API prompt`);
    const folder = this._settings.outputFolderFor(document.uri);
    await this._ensureCheckpoint();
    sink.status('queued');
    const objectInfo = await this._backend.objectInfo();
    let prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    let workflow: UiWorkflow | undefined;
    const key = document.uri.toString();
    const writesFile = this._settings.seedControlWritesFile(document.uri);
    const advanced = writesFile ? undefined : this._pending.get(key);
    // What runs: the document, or (file left alone) with its seeds advanced by the previous runs.
    const source = format === 'ui' && advanced ? applyPendingControls(parsed.value as { nodes: [] }, getCoreSchema, advanced) : parsed.value;
    if (format === 'ui') {
      workflow = parseUiWorkflow(source);
      // Nodes Marble has no code for are named, with the reason, before anything is queued.
      const unsupported = unsupportedNodeErrors(workflow.nodes, (t) => Object.prototype.hasOwnProperty.call(objectInfo, t), VIRTUAL_NODE_TYPES);
      if (unsupported) {
        const n = Object.keys(unsupported).length;
        const message = `This workflow has ${n === 1 ? 'a node' : `${n} nodes`} Marble cannot run`;
        sink.status('error', message);
        sink.error(message, undefined, unsupported as NodeErrors);
        throw new PromptRejectedError(message, unsupported);
      }
      const converted = uiToApi(workflow, objectInfo);
      for (const w of converted.warnings) this._log.warn(`Run ${document.uri.fsPath}: ${w}`);
      prompt = converted.prompt;
    } else {
      prompt = parseApiPrompt(parsed.value);
    }

    const pending: Promise<void>[] = [];
    let run: PromptRun;
    try {
      run = await this._backend.queue(prompt, {
        extraData: workflow ? { extra_pnginfo: { workflow } } : {},
        observers: [{
          executing: (node) => sink.executing(node),
          progress: (v, max, node) => sink.progress(node, v, max),
          preview: (node, format, data) => sink.preview(node, `data:image/${format};base64,${data}`),
          executed: (node, images) => {
            const staged = images.filter((i) => i.type === 'output');
            if (staged.length === 0) return;
            pending.push(this._collect(staged.map((i) => path.join(this._settings.backendConfig().outputDir, i.subfolder, i.filename)), folder)
              .then((uris) => sink.executed(node, uris))
              .catch((e) => this._log.error(`Moving outputs of node ${node}: ${e instanceof Error ? e.message : e}`)));
          },
        }],
      });
    } catch (e) {
      if (e instanceof PromptRejectedError) {
        sink.status('error', e.message);
        sink.error(e.message, undefined, e.nodeErrors as NodeErrors);
      }
      throw e;
    }
    sink.status('running');
    if (workflow) {
      sink.controlledValues?.(controlledValues(workflow, getCoreSchema));
      if (writesFile) {
        this._pending.delete(key);
        await this._advanceControls(document, parsed.value as { nodes: [] });
      } else {
        const { changes } = applyControlsAfterQueue(source as { nodes: [] }, getCoreSchema);
        this._pending.set(key, pendingFromChanges(parsed.value as { nodes: [] }, getCoreSchema, changes));
      }
    }
    run.done.then(
      async () => {
        await Promise.all(pending);
        sink.status('done');
      },
      (e: PromptRunError) => {
        sink.status(e.kind === 'interrupted' ? 'interrupted' : 'error', e.message);
        if (e.kind !== 'interrupted') sink.error(e.message, e.nodeId);
      },
    );
    return run;
  }

  private async _collect(files: string[], folder: vscode.Uri | undefined): Promise<vscode.Uri[]> {
    const staged = files.map((f) => vscode.Uri.file(f));
    // Without a workspace folder the images stay where the backend wrote them.
    if (!folder) return staged;
    const out: vscode.Uri[] = [];
    for (const f of staged) out.push(await moveIntoWorkspace(f, folder));
    return out;
  }

  private async _advanceControls(document: vscode.TextDocument, queued: { nodes: [] }): Promise<void> {
    const { workflow, changes } = applyControlsAfterQueue(queued, getCoreSchema);
    if (changes.length === 0) return;
    // Only if the document still holds what was queued: never overwrite an edit made meanwhile.
    const now = parseJsonText(document.getText());
    if (!now.ok || JSON.stringify(now.value) !== JSON.stringify(queued)) return;
    await this._write(document, workflow as unknown as Record<string, unknown>);
  }
}
