// Which engine runs prompts: the built-in inference child or ComfyUI servers listed in
// `marble.backends` (machine scope, so a workspace cannot send your prompts and input images to a
// server of its choosing). The choice lives in globalState and is picked from a status bar item;
// each server's auth token lives in SecretStorage and becomes an `Authorization: Bearer` header
// (or a whole `Name: value` header when the secret is written that way).
import * as vscode from 'vscode';
import { normalizeServerUrl } from '../remote/comfyHttp';
import { authHeader, BUILTIN, parseBackendsSetting, SPREAD } from '../remote/backendSettings';
import type { BackendClientFactory } from './backend';
import { remoteBackendFactory } from './backendClientFactory';

export { BUILTIN, SPREAD };
const STATE_KEY = 'marble.backendChoice';
const secretKey = (url: string) => `marble.backendToken:${url}`;

export class BackendChoice implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('marble.backendChoice', vscode.StatusBarAlignment.Right, 101);
  private readonly emitter = new vscode.EventEmitter<string>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel, private readonly builtin: BackendClientFactory) {
    this.item.name = 'Marble Backend';
    this.item.command = 'marble.selectBackend';
    this.subs.push(vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('marble.backends')) {
        const before = this.current;
        this.render();
        if (this.current !== before) this.emitter.fire(this.current);
      }
    }));
    this.render();
  }

  /** Entries of the setting (validated) plus 'spread' when there are several servers. */
  choices(): string[] {
    const { entries } = parseBackendsSetting(vscode.workspace.getConfiguration('marble').get('backends'));
    const servers = entries.filter((e) => e !== BUILTIN);
    return servers.length > 1 ? [...entries, SPREAD] : entries;
  }

  get current(): string {
    const stored = this.context.globalState.get<string>(STATE_KEY);
    const choices = this.choices();
    return stored && choices.includes(stored) ? stored : choices[0];
  }

  async select(choice: string): Promise<void> {
    if (!this.choices().includes(choice)) throw new Error(`'${choice}' is not in marble.backends (choices: ${this.choices().join(', ')})`);
    const before = this.current;
    await this.context.globalState.update(STATE_KEY, choice);
    this.render();
    if (this.current !== before) this.emitter.fire(this.current);
  }

  /** Quick pick of the choices; with `choice` given (tests, keybindings) no UI. */
  async pick(choice?: string): Promise<string | undefined> {
    if (choice !== undefined) {
      await this.select(choice === BUILTIN || choice === SPREAD ? choice : normalizeServerUrl(choice));
      return this.current;
    }
    const items = this.choices().map((c) => ({ label: describe(c), description: c === this.current ? 'current' : undefined, choice: c }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Marble: run prompts on…', placeHolder: 'Add ComfyUI servers in the marble.backends setting' });
    if (!picked) return undefined;
    await this.select(picked.choice);
    return picked.choice;
  }

  /** Stores (or with an empty value removes) the token for a server. */
  async setToken(url?: string, token?: string): Promise<void> {
    const servers = this.choices().filter((c) => c !== BUILTIN && c !== SPREAD);
    const target = url ? normalizeServerUrl(url) : await vscode.window.showQuickPick(servers, { title: 'Marble: token for which ComfyUI server?' });
    if (!target) return;
    const value = token ?? await vscode.window.showInputBox({ title: `Token for ${target}`, prompt: 'Sent as "Authorization: Bearer <token>", or write a whole header as "Name: value". Empty removes it.', password: true });
    if (value === undefined) return;
    if (value === '') await this.context.secrets.delete(secretKey(target));
    else await this.context.secrets.store(secretKey(target), value);
    this.emitter.fire(this.current); // reconnect with the new header
  }

  /** The factory for the current choice; the supervisor calls it on every (re)start. */
  readonly factory: BackendClientFactory = async (log) => {
    const choice = this.current;
    if (choice === BUILTIN) return this.builtin(log);
    const urls = choice === SPREAD ? this.choices().filter((c) => c !== BUILTIN && c !== SPREAD) : [choice];
    const servers = await Promise.all(urls.map(async (url) => ({ url, headers: authHeader(await this.context.secrets.get(secretKey(url))) })));
    this.log.info(`Using ComfyUI server${urls.length > 1 ? 's' : ''} ${urls.join(', ')}${urls.length > 1 ? ' (spread by queue length)' : ''}`);
    return remoteBackendFactory(servers)(log);
  };

  private render(): void {
    const { problems } = parseBackendsSetting(vscode.workspace.getConfiguration('marble').get('backends'));
    for (const p of problems) this.log.warn(p);
    const c = this.current;
    this.item.text = c === BUILTIN ? '$(server-process) Marble: built-in' : c === SPREAD ? '$(server-environment) Marble: all servers' : `$(remote) Marble: ${new URL(c).host}`;
    this.item.tooltip = `Marble runs prompts on ${describe(c)}. Click to choose.`;
    // Only worth a status bar slot once a server is configured.
    if (this.choices().some((x) => x !== BUILTIN)) this.item.show();
    else this.item.hide();
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.item.dispose();
    this.emitter.dispose();
  }
}

function describe(choice: string): string {
  if (choice === BUILTIN) return 'Built-in engine (this machine)';
  if (choice === SPREAD) return 'All ComfyUI servers (spread by queue length)';
  return `ComfyUI server ${choice}`;
}
