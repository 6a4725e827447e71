// What the backend is doing, as the status bar shows it: idle / loading model / step x of y /
// failed. Pure (no vscode), so the wording is unit-tested; backendStatusBar.ts renders it.

/** The backend's state, driven by the child's ComfyUI-named events. */
export type BackendPhase =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'idle' }
  | { kind: 'loading'; node: string }
  | { kind: 'running'; node: string; classType?: string; step?: number; max?: number }
  | { kind: 'failed'; message: string };

export interface PhaseDisplay {
  /** Status bar text (with `$(icon)` codicons). */
  text: string;
  tooltip: string;
  /** What a click does: show the logs, or interrupt while a run is busy. */
  command: string;
}

/** The text, tooltip and click command for a phase. */
export function describePhase(p: BackendPhase): PhaseDisplay {
  switch (p.kind) {
    case 'stopped': return { text: '$(circle-outline) Marble', tooltip: 'Marble: inference process not started', command: 'marble.showLogs' };
    case 'starting': return { text: '$(loading~spin) Marble: starting', tooltip: 'Marble: starting the inference process', command: 'marble.showLogs' };
    case 'idle': return { text: '$(circle-filled) Marble', tooltip: 'Marble: idle — click to show logs', command: 'marble.showLogs' };
    case 'loading': return { text: '$(loading~spin) Marble: loading model', tooltip: `Marble: loading a model (node ${p.node}) — click to interrupt`, command: 'marble.interrupt' };
    case 'running': {
      const what = p.step !== undefined && p.max !== undefined ? `step ${p.step} of ${p.max}` : (p.classType ?? `node ${p.node}`);
      return { text: `$(loading~spin) Marble: ${what}`, tooltip: `Marble: running ${p.classType ?? 'node'} ${p.node} — click to interrupt`, command: 'marble.interrupt' };
    }
    case 'failed': return { text: '$(error) Marble', tooltip: `Marble: ${p.message} — click to show logs`, command: 'marble.showLogs' };
  }
}
