// Typed access to the webview API VS Code injects. Browser-only; both webviews use it. The API may
// be acquired once per page, so this module owns the single instance.

export interface VsCodeApi<TOut, TState> {
  postMessage(message: TOut): void;
  getState(): TState | undefined;
  setState(state: TState): void;
}

declare function acquireVsCodeApi(): VsCodeApi<unknown, unknown>;

let api: VsCodeApi<unknown, unknown> | undefined;

export function getVsCodeApi<TOut, TState>(): VsCodeApi<TOut, TState> {
  if (!api) {
    if (typeof acquireVsCodeApi !== 'function') {
      throw new Error('acquireVsCodeApi is not defined: this page must run inside a VS Code webview (or a test stand-in)');
    }
    api = acquireVsCodeApi();
  }
  return api as VsCodeApi<TOut, TState>;
}

/** Merge keys into the persisted state instead of replacing it wholesale. */
export function patchState<TState extends object>(vscode: VsCodeApi<unknown, TState>, patch: Partial<TState>): void {
  vscode.setState({ ...(vscode.getState() ?? ({} as TState)), ...patch });
}

/** Subscribe to host messages that pass `guard`; others are reported, not trusted. */
export function onHostMessage<T>(guard: (x: unknown) => x is T, handler: (msg: T) => void, onInvalid?: (x: unknown) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    if (guard(event.data)) handler(event.data);
    else onInvalid?.(event.data);
  });
}
