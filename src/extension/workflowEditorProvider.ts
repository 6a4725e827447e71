// The custom editor for `*.workflow.json`. The TextDocument is the model: the webview renders
// whatever text it is sent, and each gesture comes back as a whole workflow that becomes ONE
// minimal WorkspaceEdit (common prefix/suffix of the old text and the canonical text of the new
// workflow). VS Code then owns undo/redo, dirty state, save, hot exit and split editors.
import * as vscode from 'vscode';
import { loadCoreCatalog } from '../workflow/catalog/catalog';
import { apiToUi } from '../workflow/apiToUi';
import { detectFormat, parseApiPrompt } from '../workflow/parse';
import { writeCanonicalWorkflow } from '../workflow/canonicalJson';
import type { ObjectInfo } from '../workflow/objectInfo';
import { applyComboChanges, modelComboChanges } from './modelListRefresh';
import { isGraphMessage, WEBVIEW_PROTOCOL_VERSION, type GraphToHost, type HostToGraph } from '../protocol/webview';
import type { BackendSupervisor } from './backend';
import { errorMessage, reportError, UserFacingError } from './failableCommand';
import { PromptRejectedError } from './backend';
import { WorkflowDiagnostics } from './workflowDiagnostics';
import { uploadIntoWidget, type OpenDialog, type UploadHost } from './graphUpload';
import { withInputFiles } from './inputFolder';
import { listInputFolder } from './inputUpload';
import { LazyTokenCounter, promptTexts, tokenCountsFor } from './promptTokens';
import { folderPaths } from '../inference/models/modelsRoot';
import type { MarbleSettings } from './settings';
import { minimalReplacement, withLineEndings } from './minimalEdit';
import type { RunSink, WorkflowRunner } from './workflowRunner';
import { EditorSession, errorPage, themeKind } from './workflowEditorSession';
import { detectIndent, parseJsonText, reindentJson } from './workflowText';
import { webviewHtml, webviewOptions } from './webviewSupport';

export const WORKFLOW_VIEW_TYPE = 'marble.workflowEditor';

/** Typing in a prompt re-counts its tokens at most this often. */
const TOKEN_DEBOUNCE_MS = 150;

export type { OpenDialog };

export class WorkflowEditorProvider implements vscode.CustomTextEditorProvider {
  private readonly _sessions = new Set<EditorSession>();
  private _runner: WorkflowRunner | undefined;
  // Embedding folders are read at each count, so a newly added embedding counts at once.
  private readonly _tokens = new LazyTokenCounter(undefined, () => (this._settings ? folderPaths(this._settings.modelsFolders(), 'embeddings') : []));
  private readonly _taps = new Set<(uri: vscode.Uri, m: HostToGraph) => void>();
  /** Validation errors of runs, on the lines of the `.workflow.json` text (Problems panel). */
  readonly diagnostics = new WorkflowDiagnostics();
  /** The upload button's file picker (a test replaces it). */
  openDialog: OpenDialog = (o) => vscode.window.showOpenDialog(o);

  constructor(
    private readonly _context: vscode.ExtensionContext,
    private readonly _backend: BackendSupervisor,
    private readonly _log: vscode.LogOutputChannel,
    private readonly _imageRoots: () => vscode.Uri[],
    private readonly _settings?: MarbleSettings,
  ) {
    _context.subscriptions.push(this.diagnostics);
  }

  /** What the upload button's handler (graphUpload.ts) needs from this provider. */
  private _uploadHost(): UploadHost {
    return {
      openDialog: this.openDialog,
      log: this._log,
      inputFolder: (resource) => this._inputFolder(resource),
      sessions: () => this._sessions,
      forgetObjectInfo: () => this._backend.forgetObjectInfo(),
      applyWorkflowEdit: (document, workflow) => this.applyWorkflowEdit(document, workflow),
    };
  }

  /** Test hook: sees every message posted to any graph page. */
  tapForTest(listener: (uri: vscode.Uri, m: HostToGraph) => void): vscode.Disposable {
    this._taps.add(listener);
    return new vscode.Disposable(() => this._taps.delete(listener));
  }

  /** Registers the provider; the runner is set later because it writes through this provider. */
  static register(provider: WorkflowEditorProvider): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(WORKFLOW_VIEW_TYPE, provider, {
      supportsMultipleEditorsPerDocument: true,
    });
  }

  set runner(r: WorkflowRunner) {
    this._runner = r;
  }

  /** The document of the active Marble editor, if one is active. */
  activeDocument(): vscode.TextDocument | undefined {
    for (const s of this._sessions) if (s.panel.active) return s.document;
    return undefined;
  }

  /** Sends every ready page the current model lists, e.g. after a download added a checkpoint. */
  async refreshModelLists(): Promise<void> {
    this._backend.forgetObjectInfo();
    const ready = [...this._sessions].filter((s) => s.ready);
    if (ready.length === 0) return;
    const fresh = await this._backend.objectInfo();
    for (const s of ready) {
      const changes = modelComboChanges(s.objectInfo, fresh);
      s.objectInfo = applyComboChanges(s.objectInfo, changes);
      for (const c of changes) s.post(c);
    }
  }

  /** Number of open Marble editors on a document; `ready` counts those whose page said ready. */
  /** Sends every ready editor its page state again, e.g. with another backend's node list. */
  async refreshCatalogs(): Promise<void> {
    for (const s of this._sessions) if (s.ready) await this._init(s).catch((e) => this._log.warn(`Refreshing the node list: ${errorMessage(e)}`));
  }

  sessionCount(uri: vscode.Uri, ready = false): number {
    return [...this._sessions].filter((s) => s.document.uri.toString() === uri.toString() && (!ready || s.ready)).length;
  }

  async resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): Promise<void> {
    const session = new EditorSession(document, panel, (uri, m) => { for (const t of this._taps) t(uri, m); });
    this._sessions.add(session);
    panel.webview.options = webviewOptions(this._context.extensionUri, 'graph', this._imageRoots());
    try {
      panel.webview.html = webviewHtml(panel.webview, this._context.extensionUri, 'graph');
    } catch (e) {
      // Without a page the user would face a blank tab: say what failed and offer the text editor.
      this._log.error(`Workflow editor page: ${e instanceof Error ? e.stack ?? e.message : e}`);
      panel.webview.options = { enableScripts: false };
      panel.webview.html = errorPage(`Marble could not build the workflow editor page: ${errorMessage(e)}. Use "Reopen Editor With… → Text Editor".`);
    }

    const subs: vscode.Disposable[] = [
      panel.webview.onDidReceiveMessage((m: unknown) => void this._receive(session, m)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        // Change events without content changes (dirty-state flips) carry nothing to show.
        if (e.document.uri.toString() === document.uri.toString() && e.contentChanges.length > 0) {
          session.sync();
          this._scheduleTokenCounts(session);
        }
      }),
    ];
    // Every per-editor subscription ends with the panel (drawio's leaked listener is the counter-example).
    panel.onDidDispose(() => {
      clearTimeout(session.tokenTimer);
      this._sessions.delete(session);
      for (const s of subs) s.dispose();
    });
  }

  /** Every message of a page goes through here: checked against the protocol, then handled. */
  private async _receive(session: EditorSession, m: unknown): Promise<void> {
    if (!isGraphMessage(m)) {
      this._log.warn(`Workflow editor: ignored an invalid message ${JSON.stringify(m)?.slice(0, 200)}`);
      return;
    }
    await this._onMessage(session, m).catch((e) => void reportError(this._log, `workflow editor (${m.type})`, e));
  }

  /**
   * Test hook: handles `message` as if the ready Marble editor on `uri` had posted it (same
   * validation and handling as a real page). Resolves once it was handled.
   */
  async receiveForTest(uri: vscode.Uri, message: unknown): Promise<void> {
    const session = [...this._sessions].find((s) => s.ready && s.document.uri.toString() === uri.toString());
    if (!session) throw new Error(`No ready Marble editor on ${uri.toString()}`);
    await this._receive(session, message);
  }

  private async _onMessage(session: EditorSession, m: GraphToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        if (m.version !== WEBVIEW_PROTOCOL_VERSION) {
          this._log.warn(`Workflow webview speaks protocol v${m.version}, host v${WEBVIEW_PROTOCOL_VERSION}`);
        }
        await this._init(session);
        return;
      case 'edit': {
        // Chained: each edit is computed against the text the previous one produced.
        const next = session.edits.then(() => this._applyFromSession(session, m.workflow, m.label));
        session.edits = next.catch(() => undefined);
        await next;
        return;
      }
      case 'run':
        try {
          await this.runDocument(session.document);
        } catch (e) {
          // The editor already shows it (status line, problems list, the node): a notification
          // would say it a second time. Errors that offer an action (trust, models) still pop up.
          if (e instanceof vscode.CancellationError) return;
          if (e instanceof UserFacingError && e.actions.length > 0) throw e;
          this._log.warn(`Run ${session.document.uri.fsPath}: ${errorMessage(e)}`);
        }
        return;
      case 'interrupt':
        await this._backend.interrupt();
        return;
      case 'reopenAsText':
        await vscode.commands.executeCommand('vscode.openWith', session.document.uri, 'default');
        return;
      case 'convertToWorkflow':
        await this.convertToWorkflow(session.document);
        return;
      case 'log':
        this._log[m.level](`[graph webview] ${m.message}`);
        return;
      case 'upload':
        await uploadIntoWidget(this._uploadHost(), session, m.node, m.widget);
        return;
      case 'promptDraft': {
        const count = await this._tokens.get();
        session.post({ type: 'tokenCounts', counts: tokenCountsFor(new Map([[m.node, m.text]]), count), merge: true });
        return;
      }
    }
  }

  private async _init(session: EditorSession): Promise<void> {
    const objectInfo = await this._catalog(session.document.uri);
    session.objectInfo = objectInfo;
    const text = session.document.getText();
    session.ready = true;
    session.lastText = text;
    session.post({
      type: 'init', version: WEBVIEW_PROTOCOL_VERSION, text, objectInfo, theme: themeKind(),
      readOnly: session.document.uri.scheme === 'git',
    });
    const parsed = parseJsonText(text);
    // An empty file is a blank canvas (the page draws it), not a syntax error.
    if (!parsed.ok && text.trim() !== '') session.post({ type: 'parseError', message: parsed.message, line: parsed.line, column: parsed.column });
    this._scheduleTokenCounts(session, 0);
  }

  /**
   * object_info from the backend when it runs (real model lists), else the static catalogue;
   * either way the input-folder combos list the input folder as it is now.
   */
  private async _catalog(resource: vscode.Uri): Promise<ObjectInfo> {
    let info: ObjectInfo | undefined;
    try {
      info = await this._backend.objectInfoIfRunning();
    } catch (e) {
      this._log.warn(`object_info from the backend failed, using the static catalogue: ${errorMessage(e)}`);
    }
    info ??= loadCoreCatalog();
    const folder = this._inputFolder(resource);
    return folder ? withInputFiles(info, await listInputFolder(folder)) : info;
  }

  private _inputFolder(resource: vscode.Uri): vscode.Uri | undefined {
    try {
      return this._settings?.inputFolderFor(resource);
    } catch (e) {
      this._log.warn(errorMessage(e));
      return undefined;
    }
  }

  /** Sends the prompt nodes' token counts soon; a burst of edits is counted once. */
  private _scheduleTokenCounts(session: EditorSession, delay = TOKEN_DEBOUNCE_MS): void {
    clearTimeout(session.tokenTimer);
    session.tokenTimer = setTimeout(() => {
      session.tokenTimer = undefined;
      void this._postTokenCounts(session).catch((e) => this._log.warn(`Token counts: ${errorMessage(e)}`));
    }, delay);
  }

  private async _postTokenCounts(session: EditorSession): Promise<void> {
    if (!session.ready) return;
    const parsed = parseJsonText(session.document.getText());
    if (!parsed.ok) return;
    const texts = promptTexts(parsed.value, session.objectInfo);
    if (texts.size === 0) return;
    const count = await this._tokens.get();
    session.post({ type: 'tokenCounts', counts: tokenCountsFor(texts, count) });
  }

  private async _applyFromSession(session: EditorSession, workflow: Record<string, unknown>, label?: string): Promise<void> {
    const newText = this.textFor(session.document, workflow);
    // The sender already shows this state: mark it so the change event is not echoed back to it.
    session.lastText = newText;
    if (newText !== session.document.getText()) session.echoes.push(newText);
    let applied: boolean;
    try {
      applied = await this.applyWorkflowEdit(session.document, workflow);
    } catch (e) {
      // Refused: the page shows a state the document does not hold; send it the document again.
      const i = session.echoes.indexOf(newText);
      if (i >= 0) session.echoes.splice(i, 1);
      session.sync(true);
      throw e;
    }
    this._log.trace(`Workflow edit${label ? ` (${label})` : ''}: ${applied ? 'applied' : 'no change'}`);
  }

  /** The document text for a workflow: canonical form, in the document's indentation and EOL. */
  textFor(document: vscode.TextDocument, workflow: Record<string, unknown>): string {
    const old = document.getText();
    const text = reindentJson(writeCanonicalWorkflow(workflow), detectIndent(old, 2));
    return withLineEndings(text, document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n');
  }

  /**
   * Replaces the document's workflow with `workflow` as one minimal edit; false when nothing
   * changed. Also the test hook's path (`api._test.applyWorkflowEdit`).
   */
  async applyWorkflowEdit(document: vscode.TextDocument, workflow: Record<string, unknown>): Promise<boolean> {
    if (!workflow || typeof workflow !== 'object' || !Array.isArray(workflow.nodes)) {
      throw new Error('Workflow edit: expected a UI workflow object with a "nodes" array');
    }
    const old = document.getText();
    const r = minimalReplacement(old, this.textFor(document, workflow));
    if (!r) return false;
    const edit = new vscode.WorkspaceEdit();
    edit.replace(document.uri, new vscode.Range(document.positionAt(r.start), document.positionAt(r.end)), r.text);
    const ok = await vscode.workspace.applyEdit(edit);
    if (!ok) throw new Error(`VS Code refused the edit to ${document.uri.fsPath} (read-only?)`);
    return true;
  }

  /**
   * Rewrites an API-format prompt document as a UI workflow with a layout (apiToUi), as one
   * undoable edit; the open editors then show the graph.
   */
  async convertToWorkflow(document: vscode.TextDocument): Promise<void> {
    const parsed = parseJsonText(document.getText());
    if (!parsed.ok || detectFormat(parsed.value) !== 'api') {
      throw new UserFacingError(`Marble: ${document.uri.path.split('/').pop()} is not an API-format prompt, so there is nothing to convert.`);
    }
    const { workflow, warnings } = apiToUi(parseApiPrompt(parsed.value), this._session0Catalog(document) ?? loadCoreCatalog());
    for (const w of warnings) this._log.warn(`Convert ${document.uri.fsPath}: ${w}`);
    await this.applyWorkflowEdit(document, workflow as unknown as Record<string, unknown>);
  }

  private _session0Catalog(document: vscode.TextDocument): ObjectInfo | undefined {
    for (const s of this._sessions) if (s.document === document && Object.keys(s.objectInfo).length) return s.objectInfo;
    return undefined;
  }

  /** Runs a document; its editors (if open) show the progress and results. */
  async runDocument(document: vscode.TextDocument): Promise<void> {
    if (!this._runner) throw new Error('Workflow runner is not ready');
    const sink = this._sinkFor(document);
    // A page flushes its last gesture just before it posts `run` (and a title-bar Run may follow
    // a gesture closely): run what the editors show, not the text before their edits landed.
    await Promise.all([...this._sessions].filter((s) => s.document === document).map((s) => s.edits));
    this.diagnostics.clear(document.uri);
    try {
      await this._runner.run(document, sink);
    } catch (e) {
      // Declining the no-model offer leaves the editor as it was, not in an error state.
      if (e instanceof vscode.CancellationError) sink.status('idle');
      // A rejected prompt was already reported node by node.
      else if (!(e instanceof PromptRejectedError)) sink.status('error', errorMessage(e));
      throw e;
    }
  }

  private _sinkFor(document: vscode.TextDocument): RunSink {
    const each = (f: (s: EditorSession) => void) => {
      for (const s of this._sessions) if (s.document.uri.toString() === document.uri.toString() && s.ready) f(s);
    };
    return {
      status: (state, message) => each((s) => s.post({ type: 'status', state, message })),
      executing: (node) => each((s) => s.post({ type: 'executing', node })),
      progress: (node, value, max) => each((s) => s.post({ type: 'progress', node, value, max })),
      preview: (node, dataUrl) => each((s) => s.post({ type: 'preview', node, dataUrl })),
      executed: (node, images) => each((s) => s.post({
        type: 'executed', node,
        images: images.map((u) => ({ uri: s.panel.webview.asWebviewUri(u).toString(), filename: u.path.split('/').pop() ?? '' })),
      })),
      controlledValues: (values) => each((s) => s.post({
        type: 'controlledValues', values: values.map((v) => ({ node: v.nodeId, widget: v.widget, value: v.value })),
      })),
      error: (message, node, nodeErrors) => {
        if (nodeErrors && Object.keys(nodeErrors).length > 0) this.diagnostics.publish(document, nodeErrors, message);
        each((s) => s.post({ type: 'error', message, node, nodeErrors }));
      },
    };
  }
}
