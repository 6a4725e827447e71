// **Marble: Download Model…**: a quick pick of the curated catalogue plus "Enter URL…", then a
// cancellable notification with MB/s and time left while downloadModel (src/download) fetches
// the file into the first models folder. VS Code's proxy settings (`http.proxy`,
// `http.proxyStrictSSL`, `http.noProxy`) apply, falling back to HTTPS_PROXY/NO_PROXY. When it is
// done, every model list (backend object_info, graph editors, Generate view) is refreshed.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MODEL_CATALOG, findCatalogEntry, type CatalogEntry } from '../download/catalog';
import { DownloadError, downloadModel, type DownloadProgress, type DownloadResult } from '../download/downloadModel';
import { proxyFromEnv, type ProxySettings } from '../download/httpGet';

/** Skips the pickers (tests, other commands): a catalogue id or a URL, and where it goes. */
export interface DownloadModelArgs {
  id?: string;
  url?: string;
  /** Models sub-folder for a URL (default checkpoints). */
  folder?: string;
  /** Models root (default: the first models folder). */
  modelsRoot?: string;
}

export interface DownloadModelDeps {
  modelsRoot: () => string;
  log: vscode.LogOutputChannel;
  /** Called with the saved file once it is in place. */
  onDownloaded: (file: string) => Promise<void>;
}

const URL_FOLDERS = ['checkpoints', 'vae', 'loras', 'embeddings', 'upscale_models', 'controlnet'];
const MB = 1024 * 1024;

export function vscodeProxy(target: string): ProxySettings {
  const http = vscode.workspace.getConfiguration('http');
  const env = proxyFromEnv(target);
  const configured = http.get<string>('proxy')?.trim();
  const noProxy = [...(http.get<string[]>('noProxy') ?? []), ...(env.noProxy ?? [])];
  return { url: configured || env.url, noProxy, strictSSL: http.get<boolean>('proxyStrictSSL', true) };
}

export function progressMessage(p: DownloadProgress): string {
  const done = `${(p.received / MB).toFixed(1)}${p.total !== undefined ? ` / ${(p.total / MB).toFixed(1)}` : ''} MB`;
  const eta = p.etaSeconds === undefined ? '' : p.etaSeconds >= 60 ? ` · ${Math.floor(p.etaSeconds / 60)} min ${Math.round(p.etaSeconds % 60)} s left` : ` · ${Math.round(p.etaSeconds)} s left`;
  return `${done} · ${(p.bytesPerSecond / MB).toFixed(1)} MB/s${eta}`;
}

async function pick(): Promise<{ entry?: CatalogEntry; url: string; folder: string } | undefined> {
  type Item = vscode.QuickPickItem & { entry?: CatalogEntry; enterUrl?: boolean };
  const items: Item[] = [
    ...MODEL_CATALOG.map((e) => ({
      label: e.label, description: `${e.sizeLabel} → ${e.folder}/${e.file}`,
      detail: `${e.sha256 ? 'SHA-256 verified' : 'no published SHA-256: size and header checked'}${e.note ? ` · ${e.note}` : ''}`, entry: e,
    })),
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(link) Enter URL…', detail: 'A direct link: Hugging Face …/resolve/…, Civitai …/api/download/models/…', enterUrl: true },
  ];
  const chosen = await vscode.window.showQuickPick(items, { title: 'Marble: Download Model', placeHolder: 'A model to download into the models folder', matchOnDescription: true });
  if (!chosen) return undefined;
  if (chosen.entry) return { entry: chosen.entry, url: chosen.entry.url, folder: chosen.entry.folder };
  const url = await vscode.window.showInputBox({
    title: 'Marble: Download Model from URL', placeHolder: 'https://huggingface.co/<repo>/resolve/main/<file>.safetensors', ignoreFocusOut: true,
    validateInput: (v) => (/^https?:\/\/\S+$/i.test(v.trim()) ? undefined : 'Enter an http(s) URL'),
  });
  if (!url) return undefined;
  const folder = await vscode.window.showQuickPick(URL_FOLDERS, { title: 'Which models folder does it belong in?', placeHolder: 'checkpoints' });
  if (!folder) return undefined;
  return { url: url.trim(), folder };
}

/** Runs the command; resolves with the saved file, or undefined when cancelled by the user. */
export async function downloadModelCommand(deps: DownloadModelDeps, args?: DownloadModelArgs): Promise<string | undefined> {
  let choice: { entry?: CatalogEntry; url: string; folder: string } | undefined;
  if (args?.id || args?.url) {
    const entry = args.id ? findCatalogEntry(args.id) : undefined;
    if (args.id && !entry) throw new Error(`Download Model: '${args.id}' is not in the catalogue (${MODEL_CATALOG.map((e) => e.id).join(', ')})`);
    const folder = args.folder ?? entry?.folder ?? 'checkpoints';
    if (!URL_FOLDERS.includes(folder)) throw new Error(`Download Model: folder '${folder}' is not one of ${URL_FOLDERS.join(', ')}`);
    choice = { entry, url: entry?.url ?? args.url!, folder };
  } else {
    choice = await pick();
  }
  if (!choice) return undefined;
  const { entry, url } = choice;
  const folder = path.join(args?.modelsRoot ?? deps.modelsRoot(), choice.folder);
  const name = entry?.file ?? url;
  deps.log.info(`Download: ${url} → ${folder}`);
  let result: DownloadResult;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Marble: downloading ${entry?.label ?? path.basename(new URL(url).pathname)}`, cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        const sub = token.onCancellationRequested(() => ac.abort());
        let lastPct = 0;
        try {
          return await downloadModel({
            url, folder, fileName: entry?.file, expectedBytes: entry?.bytes, sha256: entry?.sha256, signal: ac.signal,
            proxy: vscodeProxy(url), progressIntervalMs: 500,
            onProgress: (p) => {
              const pct = p.total ? (100 * p.received) / p.total : 0;
              progress.report({ message: progressMessage(p), increment: Math.max(0, pct - lastPct) });
              lastPct = pct;
            },
          });
        } finally {
          sub.dispose();
        }
      },
    );
  } catch (e) {
    if (e instanceof DownloadError && e.code === 'cancelled') {
      deps.log.info(`Download of ${name} cancelled; the partial file is kept for a resume`);
      void vscode.window.showInformationMessage('Marble: download cancelled. Run Download Model again to resume where it stopped.');
      return undefined;
    }
    throw e instanceof DownloadError ? new Error(`Download Model: ${e.message}`) : e;
  }
  deps.log.info(`Download: saved ${result.path} (${(result.bytes / MB).toFixed(1)} MB, SHA-256 ${result.sha256}${result.verifiedSha256 ? ', verified' : ''}${result.resumedFrom ? `, resumed at ${result.resumedFrom} bytes` : ''})`);
  await deps.onDownloaded(result.path);
  void vscode.window.showInformationMessage(`Marble: ${path.basename(result.path)} is in ${folder}.`);
  return result.path;
}
