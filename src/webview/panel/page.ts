// The generation panel's DOM, built from vscode-elements. Field ids equal GenerateParams keys so
// the form code can address them generically.

import { h } from '../dom';

export interface PanelPage {
  fields: Record<string, HTMLElement & { value: string }>;
  generate: HTMLElement;
  interrupt: HTMLElement;
  status: HTMLElement;
  progress: HTMLElement;
  preview: HTMLImageElement;
  gallery: HTMLElement;
}

const label = (forId: string, text: string) => h('vscode-label', { for: forId }, text);
const num = (id: string, min: number, max: number, step: number) =>
  h('vscode-textfield', { id, name: id, type: 'number', min, max, step });
const select = (id: string) => h('vscode-single-select', { id, name: id });
const field = (id: string, text: string, control: HTMLElement) => h('div', { class: 'field' }, label(id, text), control);

export function buildPanelPage(root: HTMLElement): PanelPage {
  const prompt = h('vscode-textarea', { id: 'prompt', name: 'prompt', rows: 4, resize: 'vertical', placeholder: 'Describe the image…' });
  const negative = h('vscode-textarea', { id: 'negative', name: 'negative', rows: 2, resize: 'vertical', placeholder: 'What to avoid' });
  const model = select('model');
  const width = num('width', 64, 16384, 8);
  const height = num('height', 64, 16384, 8);
  const steps = num('steps', 1, 10000, 1);
  const cfg = num('cfg', 0, 100, 0.5);
  const sampler = select('sampler');
  const scheduler = select('scheduler');
  const seed = num('seed', 0, Number.MAX_SAFE_INTEGER, 1);
  const seedMode = select('seedMode');
  const batch = num('batch', 1, 64, 1);
  const generate = h('vscode-button', { id: 'generate', icon: 'sparkle' }, 'Generate');
  const interrupt = h('vscode-button', { id: 'interrupt', icon: 'debug-stop', secondary: true, disabled: true }, 'Interrupt');
  const status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite' });
  const progress = h('vscode-progress-bar', { id: 'progress', hidden: true, 'aria-label': 'Generation progress' });
  const preview = h('img', { id: 'preview', alt: 'Live preview', hidden: true });
  const gallery = h('div', { id: 'gallery', role: 'list', 'aria-label': 'Recent images' });

  root.replaceChildren(
    h('form', { id: 'form', autocomplete: 'off' },
      field('prompt', 'Prompt', prompt),
      field('negative', 'Negative prompt', negative),
      field('model', 'Model', model),
      h('div', { class: 'row' }, field('width', 'Width', width), field('height', 'Height', height), field('batch', 'Batch', batch)),
      h('div', { class: 'row' }, field('steps', 'Steps', steps), field('cfg', 'CFG', cfg)),
      h('div', { class: 'row' }, field('sampler', 'Sampler', sampler), field('scheduler', 'Scheduler', scheduler)),
      h('div', { class: 'row' }, field('seed', 'Seed', seed), field('seedMode', 'After each run', seedMode)),
      h('div', { class: 'actions' }, generate, interrupt),
    ),
    status,
    progress,
    preview,
    h('h3', { class: 'section' }, 'Recent'),
    gallery,
  );
  const fields = { prompt, negative, model, width, height, steps, cfg, sampler, scheduler, seed, seedMode, batch } as unknown as PanelPage['fields'];
  return { fields, generate, interrupt, status, progress, preview, gallery };
}
