// The Generate Image commands (palette, explorer folder, editor selection): ask for a prompt,
// generate with a cancellable progress notification, save into the workspace and insert a
// reference at the cursor of the active text editor.
import * as vscode from 'vscode';
import { activeInsertionTarget } from './assetStore';
import { requireTrust, UserFacingError } from './failableCommand';
import type { GenerationOutcome, GenerationService } from './generation';
import { PromptRunError } from './promptRun';
import type { MarbleSettings } from './settings';

const RECENT_PROMPTS_KEY = 'marble.recentPrompts';
const MAX_RECENT = 20;

/** Arguments the commands accept (explorer passes a Uri; tests and other commands pass options). */
export interface GenerateCommandOptions {
  prompt?: string;
  folder?: vscode.Uri;
  fromSelection?: boolean;
  /** false → do not insert into the active editor. */
  insert?: boolean;
}

/** A QuickPick that accepts typed text and offers recent prompts (most recent first). */
async function askPrompt(recent: string[]): Promise<string | undefined> {
  const qp = vscode.window.createQuickPick();
  qp.title = 'Marble: Generate Image';
  qp.placeholder = 'Describe the image (Enter to generate)';
  const recentItems = recent.map((p) => ({ label: p, description: 'recent' }));
  qp.items = recentItems;
  qp.matchOnDescription = false;
  const disposables: vscode.Disposable[] = [];
  try {
    return await new Promise<string | undefined>((resolve) => {
      disposables.push(qp.onDidChangeValue((v) => {
        // The typed text is always the first choice, so Enter generates exactly what was typed.
        qp.items = v.trim() ? [{ label: v, description: 'generate' }, ...recentItems.filter((i) => i.label !== v)] : recentItems;
      }));
      disposables.push(qp.onDidAccept(() => resolve(qp.selectedItems[0]?.label ?? (qp.value.trim() || undefined))));
      disposables.push(qp.onDidHide(() => resolve(undefined)));
      qp.show();
    });
  } finally {
    for (const d of disposables) d.dispose();
    qp.dispose();
  }
}

export async function rememberPrompt(state: vscode.Memento, prompt: string): Promise<void> {
  const recent = state.get<string[]>(RECENT_PROMPTS_KEY, []).filter((p) => p !== prompt);
  await state.update(RECENT_PROMPTS_KEY, [prompt, ...recent].slice(0, MAX_RECENT));
}

export async function generateImageCommand(
  service: GenerationService, settings: MarbleSettings, state: vscode.Memento, opts: GenerateCommandOptions,
): Promise<GenerationOutcome | undefined> {
  requireTrust('Generate Image');
  const editor = vscode.window.activeTextEditor;
  let prompt = opts.prompt;
  if (opts.fromSelection) {
    if (!editor || editor.selection.isEmpty) throw new UserFacingError('Marble: select the text to use as the prompt first.');
    prompt = editor.document.getText(editor.selection).trim();
  }
  prompt ??= await askPrompt(state.get<string[]>(RECENT_PROMPTS_KEY, []));
  if (prompt === undefined || prompt.trim() === '') return undefined;

  const resource = opts.folder ?? editor?.document.uri;
  const folder = opts.folder ?? settings.outputFolderFor(resource);
  if (!folder) {
    throw new UserFacingError('Marble: open a folder first; generated images are saved into the workspace.', [
      { title: 'Open Folder', command: 'workbench.action.files.openFolder' },
    ]);
  }
  // Captured now: by the time the image exists the user may have moved on to another editor.
  const insertInto = opts.insert === false ? undefined : activeInsertionTarget(opts.fromSelection ? 'after' : 'replace');
  await rememberPrompt(state, prompt);

  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Marble', cancellable: true },
    async (progress, token) => {
      progress.report({ message: 'starting…' });
      let last = 0;
      const outcome = await service.run({ prompt: prompt! }, folder, {
        resource,
        token,
        insertInto,
        observers: [{
          executing: (node) => { if (node !== null && last === 0) progress.report({ message: `running node ${node}…` }); },
          progress: (value, max) => {
            const pct = (value / max) * 100;
            // The status bar's wording ("step 3 of 20"), so both say the same thing.
            progress.report({ message: `step ${value} of ${max}`, increment: Math.max(0, pct - last) });
            last = pct;
          },
        }],
      }).catch((e: unknown) => {
        // Cancelling is the user's choice, not a failure to report.
        if (e instanceof PromptRunError && e.kind === 'interrupted') return undefined;
        throw e;
      });
      if (!outcome) {
        vscode.window.setStatusBarMessage('Marble: generation interrupted', 5000);
        return undefined;
      }
      const names = outcome.images.map((u) => vscode.workspace.asRelativePath(u)).join(', ');
      vscode.window.setStatusBarMessage(`$(check) Marble: saved ${names} (seed ${outcome.seed})`, 8000);
      // Nowhere to insert a link: say where the image went, with a way to it.
      if (!insertInto && outcome.images.length > 0) void offerSavedImage(outcome.images[0]!, names);
      return outcome;
    },
  );
}

/** "Saved …" with Open / Reveal, for a generation that had no editor to link the image into. */
async function offerSavedImage(image: vscode.Uri, names: string): Promise<void> {
  const choice = await vscode.window.showInformationMessage(`Marble: saved ${names}`, 'Open', 'Reveal in Explorer');
  if (choice === 'Open') await vscode.commands.executeCommand('vscode.open', image);
  else if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', image);
}
