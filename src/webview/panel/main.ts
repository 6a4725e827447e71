// Entry of the generation panel webview (bundled to dist/webview/panel.js + panel.css).
// Handshake: post `ready` → host answers `init` with model/sampler lists, defaults and gallery.
// The form is persisted in webview state so a hidden/restored panel keeps what was typed.

import '@vscode/codicons/dist/codicon.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-toolbar-button/index.js';
import {
  WEBVIEW_PROTOCOL_VERSION,
  isHostToPanel,
  type GalleryItem,
  type GenerateParams,
  type HostToPanel,
  type PanelToHost,
  type RunState,
} from '../../protocol/webview';
import { getVsCodeApi, onHostMessage, patchState } from '../vscodeApi';
import { buildPanelPage, type PanelPage } from './page';
import { readParams, writeParams, type Fields, type SelectLists } from './form';
import { renderGallery } from './gallery';

interface PanelState { params?: GenerateParams; gallery?: GalleryItem[] }

const GALLERY_LIMIT = 24;

const vscode = getVsCodeApi<PanelToHost, PanelState>();
const post = (m: PanelToHost) => vscode.postMessage(m);

let page: PanelPage;
let fields: Fields;
let lists: SelectLists = { models: [], samplers: [], schedulers: [] };
let gallery: GalleryItem[] = [];

function setStatus(state: RunState, message?: string): void {
  page.status.textContent = message ?? '';
  page.status.dataset.state = state;
  const busy = state === 'running' || state === 'queued';
  page.interrupt.toggleAttribute('disabled', !busy);
  page.generate.toggleAttribute('disabled', busy);
  page.progress.hidden = !busy;
  if (!busy) page.progress.removeAttribute('value');
}

function showGallery(items: GalleryItem[]): void {
  gallery = items.slice(0, GALLERY_LIMIT);
  renderGallery(page.gallery, gallery, (action, path) => post({ type: 'galleryAction', action, path }));
  patchState(vscode, { gallery });
}

function saveForm(): void {
  const r = readParams(fields);
  if (r.ok) patchState(vscode, { params: r.params });
}

function onGenerate(): void {
  const r = readParams(fields);
  if (!r.ok) {
    setStatus('error', `Check ${r.field ?? 'the form'}: ${r.message}`);
    if (r.field) fields[r.field].focus();
    return;
  }
  patchState(vscode, { params: r.params });
  post({ type: 'generate', ...r.params });
  setStatus('queued', 'Queued…');
}

function handle(msg: HostToPanel): void {
  switch (msg.type) {
    case 'init': {
      if (msg.version !== WEBVIEW_PROTOCOL_VERSION) {
        setStatus('error', `The panel (protocol ${WEBVIEW_PROTOCOL_VERSION}) does not match the extension (protocol ${msg.version}). Reload the window.`);
        page.generate.toggleAttribute('disabled', true);
        return;
      }
      lists = { models: msg.models, samplers: msg.samplers, schedulers: msg.schedulers };
      // What the user typed last wins over the host's defaults; lists decide what is still valid.
      writeParams(fields, { ...msg.defaults, ...(vscode.getState()?.params ?? {}) }, lists);
      showGallery(msg.gallery);
      setStatus('idle', msg.models.length ? '' : 'No models found: configure marble.modelsFolders.');
      return;
    }
    case 'status': setStatus(msg.state, msg.message); return;
    case 'progress':
      page.progress.setAttribute('max', String(Math.max(1, msg.max)));
      page.progress.setAttribute('value', String(msg.value));
      setStatus('running', `Step ${msg.value}/${msg.max}`);
      return;
    case 'preview':
      page.preview.src = msg.dataUrl;
      page.preview.hidden = false;
      return;
    case 'result':
      if (msg.images[0]) {
        page.preview.src = msg.images[0].uri;
        page.preview.hidden = false;
      }
      if (msg.nextSeed !== undefined) {
        fields.seed.value = String(msg.nextSeed);
        saveForm();
      }
      showGallery([...msg.images, ...gallery.filter((g) => !msg.images.some((i) => i.path === g.path))]);
      setStatus('done', `Done: ${msg.images.map((i) => i.filename).join(', ')}`);
      return;
    case 'gallery': showGallery(msg.items); return;
  }
}

function main(): void {
  page = buildPanelPage(document.getElementById('app') ?? document.body);
  fields = page.fields as unknown as Fields;
  page.generate.addEventListener('click', onGenerate);
  // Enter in a field or a form-associated button must never navigate the webview.
  document.getElementById('form')?.addEventListener('submit', (e) => e.preventDefault());
  page.interrupt.addEventListener('click', () => post({ type: 'interrupt' }));
  page.fields.prompt.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) onGenerate();
  });
  for (const f of Object.values(page.fields)) f.addEventListener('change', saveForm);
  // Paint from the last state before the host answers (a restored panel shows no empty flash).
  const saved = vscode.getState();
  if (saved?.gallery) showGallery(saved.gallery);
  else showGallery([]);
  onHostMessage(isHostToPanel, handle);
  post({ type: 'ready', version: WEBVIEW_PROTOCOL_VERSION });
}

main();
