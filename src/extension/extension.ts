// Composition root: creates the log, settings, backend supervisor, providers and commands, and
// returns the extension's API (with test hooks used by test/vscode/suite).
import * as vscode from 'vscode';
import type { HostToGraph, HostToPanel } from '../protocol/webview';
import { BackendSupervisor } from './backend';
import { BackendChoice, BUILTIN } from './backendChoice';
import { nodeBackendFactory } from './backendClientFactory';
import { BackendStatusBar } from './backendStatusBar';
import { ConversionNotifications } from './conversionProgress';
import { formatBytes } from '../inference/checkpoint/cache/formatBytes';
import { ConversionCache } from '../inference/checkpoint/conversionCache';
import { registerFailableCommand } from './failableCommand';
import { generateImageCommand, type GenerateCommandOptions } from './generateImageCommand';
import { GenerateImageTool, registerGenerateImageTool } from './generateImageTool';
import { GeneratePanelProvider } from './generatePanelProvider';
import { downloadModelCommand, type DownloadModelArgs } from './downloadModelCommand';
import { BackendImageGenerator, GenerationService, type ImageGenerator } from './generation';
import { MissingModelOffer, type OfferPrompt } from './missingModelOffer';
import { MarbleSettings } from './settings';
import { newWorkflow, openPngAsWorkflow, runWorkflow, selectModelsFolder } from './workflowCommands';
import { WorkflowEditorProvider, type OpenDialog } from './workflowEditorProvider';
import { WorkflowRunner } from './workflowRunner';
import { DEMO_MODEL } from '../workflow/demoModel';

/** What `activate` returns; `_test` is for the VS Code test suite only. */
export interface MarbleApi {
  readonly backend: BackendSupervisor;
  readonly _test: {
    /** Applies a workflow to a document through the custom editor's edit path. */
    applyWorkflowEdit(uri: vscode.Uri, workflow: Record<string, unknown>): Promise<boolean>;
    /** Replaces the backend step of generation (undefined restores the real one). */
    setImageGenerator(generator: ImageGenerator | undefined): void;
    /** Number of Marble graph editors open on `uri` (`ready`: whose page completed the handshake). */
    editorCount(uri: vscode.Uri, ready?: boolean): number;
    /** Handles `message` as if the ready graph editor on `uri` had posted it (validated like one). */
    graphMessage(uri: vscode.Uri, message: unknown): Promise<void>;
    /** Whether the Generate view is open and its page completed the handshake. */
    panelReady(): boolean;
    /** Handles `message` as if the Generate view's page had posted it (validated like one). */
    panelMessage(message: unknown): Promise<void>;
    /** Sees every message the host posts to the Generate view's page. */
    tapPanel(listener: (message: HostToPanel) => void): vscode.Disposable;
    /** Sees every message the host posts to any graph editor page, with its document's URI. */
    tapGraph(listener: (uri: vscode.Uri, message: HostToGraph) => void): vscode.Disposable;
    /** Replaces the upload button's file picker (undefined restores showOpenDialog). */
    setOpenDialog(dialog: OpenDialog | undefined): void;
    /** Resolves once the Generate view's gallery holds every finished generation. */
    galleryWritten(): Promise<void>;
    /** Answers the no-model notification instead of a person (undefined restores the real one). */
    setModelOfferPrompt(prompt: OfferPrompt | undefined): void;
    /** Replaces all models roots but global storage (undefined restores the settings); reconfigures the backend. */
    setModelsRoots(roots: string[] | undefined): Promise<void>;
    /** `<globalStorage>/models`, where the demo model is created. */
    globalStorageModels(): string;
    /**
     * The image tool's confirmation (title, message as Markdown). VS Code auto-accepts
     * confirmations while extension tests run, so a test reads it here.
     */
    imageToolConfirmation(input: unknown): { title: string; message: string; invocationMessage: string };
    /** The settings as Marble applies them (Restricted Mode rules included). */
    effectiveSettings(): { modelsFolders: string[]; outputFolder?: string; inputFolder?: string; defaultWorkflow?: string };
  };
}

export function activate(context: vscode.ExtensionContext): MarbleApi {
  const log = vscode.window.createOutputChannel('Marble', { log: true });
  context.subscriptions.push(log);
  const settings = new MarbleSettings(context);

  // The built-in engine or ComfyUI servers (marble.backends); switching stops the current client.
  const backendChoice = new BackendChoice(context, log, nodeBackendFactory(context.extensionUri.fsPath));
  const backend = new BackendSupervisor(backendChoice.factory, () => settings.backendConfig(), log);
  context.subscriptions.push(backend, backendChoice, new BackendStatusBar(backend.onDidChangePhase, backend.phase));
  backend.startsCheaply = () => backendChoice.current !== BUILTIN;
  // "Preparing <name> for ONNX Runtime… 43%" while the child converts a .safetensors model.
  const conversions = new ConversionNotifications((task) => void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification }, task));
  context.subscriptions.push(conversions, backend.onEvent((e) => {
    if (e.type === 'conversion') conversions.handle(e);
  }));

  // Webviews may show generated images: from the workspace folders and from the staging folder.
  const imageRoots = () => [...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri), settings.stagingFolder()];

  const editors = new WorkflowEditorProvider(context, backend, log, imageRoots, settings);
  const realOpenDialog = editors.openDialog;
  const modelOffer = new MissingModelOffer(backend, settings, context.extensionUri, log);
  const realOfferPrompt = modelOffer.prompt;
  const ensureCheckpoint = () => modelOffer.ensureCheckpoint();
  const runner = new WorkflowRunner(backend, settings, log, (doc, wf) => editors.applyWorkflowEdit(doc, wf), ensureCheckpoint);
  editors.runner = runner;
  context.subscriptions.push(WorkflowEditorProvider.register(editors));

  const realGenerator = new BackendImageGenerator(backend, settings, context.workspaceState, context.extensionUri, log, ensureCheckpoint);
  const generation = new GenerationService(realGenerator, log);
  const panel = new GeneratePanelProvider(context, backend, generation, settings, log, imageRoots);
  context.subscriptions.push(generation, panel, GeneratePanelProvider.register(panel));

  // Agent-mode chat can generate images too, through the same service as the commands.
  const imageTool = new GenerateImageTool(generation, settings, log);
  context.subscriptions.push(registerGenerateImageTool(imageTool, log));
  // Another backend: stop the old client, then give editors and the panel the new node lists.
  context.subscriptions.push(backendChoice.onDidChange(() => {
    void backend.stopClient().then(() => {
      panel.refresh();
      return editors.refreshCatalogs();
    }).catch((e) => log.warn(`Switching backends: ${e instanceof Error ? e.message : e}`));
  }));

  const generate = (opts: GenerateCommandOptions) => generateImageCommand(generation, settings, context.workspaceState, opts);
  const asOptions = (arg: unknown): GenerateCommandOptions =>
    arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) ? (arg as GenerateCommandOptions) : {};
  const cmd = (id: string, f: (...args: any[]) => unknown) => context.subscriptions.push(registerFailableCommand(log, id, f));

  cmd('marble.generateImage', (arg?: unknown) => generate(asOptions(arg)));
  cmd('marble.generateImageHere', (arg?: unknown) => {
    const folder = arg instanceof vscode.Uri ? arg : asOptions(arg).folder;
    if (!folder) throw new Error('Generate Image Here needs a folder (run it from the Explorer context menu)');
    return generate({ ...asOptions(arg), folder });
  });
  cmd('marble.generateFromSelection', (arg?: unknown) => generate({ ...asOptions(arg), fromSelection: true }));
  cmd('marble.newWorkflow', (arg?: unknown) => newWorkflow(context.extensionUri, arg instanceof vscode.Uri ? arg : undefined));
  cmd('marble.runWorkflow', (arg?: unknown) => runWorkflow(editors, arg instanceof vscode.Uri ? arg : undefined));
  cmd('marble.interrupt', () => backend.interrupt());
  cmd('marble.freeMemory', async () => {
    const freed = await backend.free();
    vscode.window.setStatusBarMessage(freed ? 'Marble: model memory freed' : 'Marble: no models loaded', 4000);
    return freed;
  });
  cmd('marble.clearConversionCache', async () => {
    // Sessions of converted models are released first, so their files can go on every platform.
    await backend.free().catch(() => false);
    const result = await new ConversionCache(settings.conversionCacheFolder()).clear();
    const busy = result.skipped.length ? `; ${result.skipped.length} conversion(s) still running were left` : '';
    void vscode.window.showInformationMessage(
      result.removed ? `Marble: cleared the conversion cache, freed ${formatBytes(result.freedBytes)} (${result.removed} item${result.removed === 1 ? '' : 's'})${busy}.` : `Marble: the conversion cache is already empty${busy}.`,
    );
    return result;
  });
  cmd('marble.selectModelsFolder', () => selectModelsFolder());
  cmd('marble.createDemoModel', async () => {
    const dir = await modelOffer.createDemoModel();
    backend.forgetObjectInfo();
    panel.refresh();
    void vscode.window.showInformationMessage(`Marble: the demo model is installed as ${dir}. It draws 64×64 simple shapes only, e.g. "${DEMO_MODEL.examplePrompt}".`);
    return dir;
  });
  cmd('marble.showModelsHelp', () => modelOffer.openModelsReadme());
  cmd('marble.downloadModel', (arg?: unknown) => downloadModelCommand({
    modelsRoot: () => settings.modelsFolders()[0] ?? settings.globalStorageModels(),
    log,
    // A new file must show up in every model list at once: the backend's object_info, open graph
    // editors' combos and the Generate view.
    onDownloaded: async () => {
      backend.forgetObjectInfo();
      panel.refresh();
      await editors.refreshModelLists().catch((e) => log.warn(`Refreshing model lists: ${e instanceof Error ? e.message : e}`));
    },
  }, arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) ? (arg as DownloadModelArgs) : undefined));
  cmd('marble.showLogs', () => log.show());
  cmd('marble.selectBackend', (choice?: unknown) => backendChoice.pick(typeof choice === 'string' ? choice : undefined));
  cmd('marble.setBackendToken', (url?: unknown, token?: unknown) =>
    backendChoice.setToken(typeof url === 'string' ? url : undefined, typeof token === 'string' ? token : undefined));
  cmd('marble.openPngAsWorkflow', (arg?: unknown, target?: unknown) => openPngAsWorkflow(arg instanceof vscode.Uri ? arg : undefined, target instanceof vscode.Uri ? target : undefined));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('marble')) return;
      backend.reconfigure().catch((err) => log.warn(`Reconfiguring the backend: ${err instanceof Error ? err.message : err}`));
      panel.refresh();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => backend.reconfigure().catch(() => undefined)),
  );
  log.info(`Marble activated (VS Code ${vscode.version}${settings.testMode ? ', test mode' : ''})`);

  return {
    backend,
    _test: {
      applyWorkflowEdit: async (uri, workflow) => editors.applyWorkflowEdit(await vscode.workspace.openTextDocument(uri), workflow),
      setImageGenerator: (g) => { generation.generator = g ?? realGenerator; },
      editorCount: (uri, ready) => editors.sessionCount(uri, ready),
      graphMessage: (uri, message) => editors.receiveForTest(uri, message),
      panelReady: () => panel.ready,
      panelMessage: (message) => panel.receiveForTest(message),
      tapPanel: (listener) => panel.tapForTest(listener),
      tapGraph: (listener) => editors.tapForTest(listener),
      setOpenDialog: (dialog) => { editors.openDialog = dialog ?? realOpenDialog; },
      galleryWritten: () => panel.galleryWritten(),
      setModelOfferPrompt: (prompt) => { modelOffer.prompt = prompt ?? realOfferPrompt; },
      setModelsRoots: async (roots) => {
        settings.modelsRootsOverride = roots;
        await backend.reconfigure();
        backend.forgetObjectInfo();
      },
      globalStorageModels: () => settings.globalStorageModels(),
      imageToolConfirmation: (input) => {
        const p = imageTool.prepareInvocation({ input: input as never });
        const message = p.confirmationMessages?.message;
        return {
          title: p.confirmationMessages?.title ?? '',
          message: typeof message === 'string' ? message : message?.value ?? '',
          invocationMessage: typeof p.invocationMessage === 'string' ? p.invocationMessage : p.invocationMessage?.value ?? '',
        };
      },
      effectiveSettings: () => ({
        modelsFolders: settings.modelsFolders(),
        outputFolder: settings.outputFolderFor()?.fsPath,
        inputFolder: settings.inputFolderFor()?.fsPath,
        defaultWorkflow: settings.defaultWorkflow()?.fsPath,
      }),
    },
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions, disposed by VS Code (the backend shuts its child down).
}
