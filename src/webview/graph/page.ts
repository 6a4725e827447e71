// The graph editor's DOM: toolbar (Run, Interrupt, status, progress), the canvas, a problems list
// for validation errors, and the view shown instead of the canvas when the text is not a workflow.

import { h } from '../dom';

export interface GraphPage {
  run: HTMLElement;
  interrupt: HTMLElement;
  status: HTMLElement;
  progress: HTMLElement;
  canvasHost: HTMLElement;
  canvas: HTMLCanvasElement;
  problems: HTMLUListElement;
  errorView: HTMLElement;
  errorMessage: HTMLElement;
  reopen: HTMLElement;
  /** Shown for API-format prompts: writes the UI format (with a layout) as one edit. */
  convert: HTMLElement;
}

export function buildGraphPage(root: HTMLElement): GraphPage {
  const run = h('vscode-button', { id: 'run', icon: 'play', title: 'Run this workflow' }, 'Run');
  const interrupt = h('vscode-button', { id: 'interrupt', icon: 'debug-stop', secondary: true, disabled: true, title: 'Interrupt the running workflow' }, 'Interrupt');
  const status = h('span', { id: 'status', role: 'status', 'aria-live': 'polite' });
  const progress = h('vscode-progress-bar', { id: 'progress', hidden: true, 'aria-label': 'Run progress' });
  const canvas = h('canvas', { id: 'graph-canvas', 'aria-label': 'Workflow graph' });
  const canvasHost = h('main', { id: 'canvas-host' }, canvas);
  const problems = h('ul', { id: 'problems', hidden: true, 'aria-label': 'Validation errors' });
  const errorMessage = h('pre', { id: 'error-message' });
  const reopen = h('vscode-button', { id: 'reopen', icon: 'go-to-file', secondary: true }, 'Reopen as Text');
  const convert = h('vscode-button', { id: 'convert', icon: 'type-hierarchy', hidden: true, title: 'Rewrite this file as a ComfyUI workflow with a layout (one undoable edit)' }, 'Convert to Workflow');
  const errorView = h('section', { id: 'error-view', hidden: true, role: 'alert' },
    h('h2', {}, 'This file cannot be shown as a workflow graph'),
    errorMessage,
    h('p', {}, 'Fix the text, or open it in the text editor:'),
    h('div', { class: 'error-actions' }, convert, reopen),
  );
  const toolbar = h('header', { id: 'toolbar' }, run, interrupt, status, progress);
  root.replaceChildren(toolbar, canvasHost, problems, errorView);
  return { run, interrupt, status, progress, canvasHost, canvas, problems, errorView, errorMessage, reopen, convert };
}
