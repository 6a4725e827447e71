// `marble_generateImage`: Generate Image as a language model tool, so agent-mode chat can create
// image assets while coding. It asks before running (prepareInvocation's confirmation), shows the
// same cancellable progress as Generate Image, saves through the same GenerationService path
// (staging → workspace, atomic, gallery), never edits a document itself, and answers with the
// saved path and a Markdown reference the model can paste. Refused in Restricted Mode.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { altTextFromPrompt, assetReferenceSnippet } from './assetReference';
import { freeFileName } from './assetStore';
import type { GenerationService } from './generation';
import { resolveToolTarget, toGenerationValues, ToolInputError, type ImageToolInput } from './imageToolInput';
import { PromptRunError } from './promptRun';
import type { MarbleSettings } from './settings';

export const IMAGE_TOOL_NAME = 'marble_generateImage';

function sizeText(input: ImageToolInput): string {
  const size = input.width || input.height ? `${input.width ?? 'default'}×${input.height ?? 'default'}` : 'the default size';
  return size;
}

export class GenerateImageTool implements vscode.LanguageModelTool<ImageToolInput> {
  constructor(private readonly _service: GenerationService, private readonly _settings: MarbleSettings, private readonly _log: vscode.LogOutputChannel) {}

  /** Where the image goes: the tool's `path`, else the output folder of the first workspace folder. */
  private _target(input: ImageToolInput): { folder: vscode.Uri; file?: string; workspace: vscode.WorkspaceFolder } {
    const workspace = this._settings.workspaceFolderFor();
    if (!workspace) throw new ToolInputError('no folder is open in VS Code; Marble saves images into the workspace');
    if (input.path !== undefined) {
      if (workspace.uri.scheme !== 'file') throw new ToolInputError('path needs a workspace on disk');
      const t = resolveToolTarget(workspace.uri.fsPath, input.path);
      return { folder: vscode.Uri.file(t.folder), file: t.file, workspace };
    }
    const folder = this._settings.outputFolderFor(workspace.uri);
    if (!folder) throw new ToolInputError('no output folder is configured');
    return { folder, workspace };
  }

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<ImageToolInput>): vscode.PreparedToolInvocation {
    const input = options.input;
    let where: string;
    try {
      const t = this._target(input);
      where = vscode.workspace.asRelativePath(t.file ? vscode.Uri.joinPath(t.folder, t.file) : t.folder);
    } catch (e) {
      where = `(${e instanceof Error ? e.message : String(e)})`;
    }
    const message = new vscode.MarkdownString();
    message.appendMarkdown('Marble will run a local Stable Diffusion generation and save a PNG.\n\n');
    message.appendMarkdown(`- **Prompt:** ${input.prompt}\n`);
    if (input.negativePrompt) message.appendMarkdown(`- **Negative prompt:** ${input.negativePrompt}\n`);
    message.appendMarkdown(`- **Size:** ${sizeText(input)}${input.seed !== undefined ? ` · seed ${input.seed}` : ''}\n`);
    message.appendMarkdown(`- **Saves to:** \`${where}\`\n`);
    return {
      invocationMessage: `Generating an image with Marble: ${altTextFromPrompt(String(input.prompt ?? ''), 60)}`,
      confirmationMessages: { title: 'Generate an image with Marble?', message },
    };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<ImageToolInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    // Generating loads models and writes files named by settings: not in Restricted Mode.
    if (!vscode.workspace.isTrusted) {
      throw new Error('Marble does not generate images in Restricted Mode (untrusted workspace). Ask the user to trust the workspace first.');
    }
    let values;
    let target;
    try {
      values = toGenerationValues(options.input);
      target = this._target(options.input);
    } catch (e) {
      if (e instanceof ToolInputError) throw new Error(`marble_generateImage: ${e.message}`);
      throw e;
    }
    this._log.info(`Tool ${IMAGE_TOOL_NAME}: "${values.prompt}" → ${target.folder.fsPath}${target.file ? `/${target.file}` : ''}`);
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Marble (chat tool)', cancellable: true },
      async (progress, progressToken) => {
        progress.report({ message: 'starting…' });
        const source = new vscode.CancellationTokenSource();
        const subs = [token.onCancellationRequested(() => source.cancel()), progressToken.onCancellationRequested(() => source.cancel())];
        let last = 0;
        try {
          return await this._service.run(values, target.folder, {
            resource: target.workspace.uri,
            token: source.token,
            observers: [{
              progress: (value, max) => {
                const pct = (value / max) * 100;
                progress.report({ message: `step ${value}/${max}`, increment: Math.max(0, pct - last) });
                last = pct;
              },
            }],
          });
        } catch (e) {
          if (e instanceof PromptRunError && e.kind === 'interrupted') throw new vscode.CancellationError();
          throw e;
        } finally {
          for (const s of subs) s.dispose();
          source.dispose();
        }
      },
    );
    let saved = outcome.images[0];
    if (!saved) throw new Error('marble_generateImage: the workflow saved no image');
    if (target.file) {
      // The requested name; an existing file is never replaced (name_1.png, …).
      const dest = await freeFileName(target.folder, target.file);
      await vscode.workspace.fs.rename(saved, dest, { overwrite: false });
      saved = dest;
    }
    const rel = path.relative(target.workspace.uri.fsPath, saved.fsPath).split(path.sep).join('/');
    const reference = assetReferenceSnippet('markdown', rel, altTextFromPrompt(values.prompt));
    const more = outcome.images.length > 1 ? `\n(${outcome.images.length - 1} more image(s) of the batch: ${outcome.images.slice(1).map((u) => vscode.workspace.asRelativePath(u)).join(', ')})` : '';
    return new vscode.LanguageModelToolResult([
      new vscode.LanguageModelTextPart(`Saved the image to ${rel} (seed ${outcome.seed}).\nMarkdown reference (relative to the workspace folder):\n${reference}${more}`),
    ]);
  }
}

export function registerGenerateImageTool(tool: GenerateImageTool, log: vscode.LogOutputChannel): vscode.Disposable {
  // vscode.lm is missing in hosts without the language model API; the rest of Marble still works.
  if (typeof vscode.lm?.registerTool !== 'function') {
    log.warn('This VS Code has no language model tool API; marble_generateImage is not registered');
    return new vscode.Disposable(() => undefined);
  }
  return vscode.lm.registerTool(IMAGE_TOOL_NAME, tool);
}
