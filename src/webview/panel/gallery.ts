// The "Recent" gallery: a thumbnail per result with its actions. Actions go to the host, which
// owns files and editors; the webview only names the file.

import type { GalleryActionKind, GalleryItem } from '../../protocol/webview';
import { h } from '../dom';

const ACTIONS: [GalleryActionKind, string, string][] = [
  ['insert', 'insert', 'Insert into the active editor'],
  ['open', 'go-to-file', 'Open image'],
  ['reveal', 'folder-opened', 'Reveal in Explorer'],
  ['copyPath', 'copy', 'Copy path'],
  ['openAsWorkflow', 'type-hierarchy', 'Open as workflow'],
];

export function renderGallery(root: HTMLElement, items: GalleryItem[], onAction: (action: GalleryActionKind, path: string) => void): void {
  root.replaceChildren(...items.map((item) => {
    const caption = [item.filename, item.seed !== undefined ? `seed ${item.seed}` : undefined, item.width && item.height ? `${item.width}×${item.height}` : undefined]
      .filter(Boolean).join(' · ');
    const buttons = ACTIONS.map(([action, icon, title]) => {
      const b = h('vscode-toolbar-button', { icon, label: title, title, 'data-action': action });
      b.addEventListener('click', () => onAction(action, item.path));
      return b;
    });
    return h('figure', { class: 'gallery-item', role: 'listitem', 'data-path': item.path },
      h('img', { src: item.uri, alt: item.prompt ?? item.filename, loading: 'lazy' }),
      h('figcaption', { title: item.prompt ?? '' }, caption),
      h('div', { class: 'gallery-actions' }, ...buttons),
    );
  }));
  if (!items.length) root.replaceChildren(h('p', { class: 'empty' }, 'Generated images appear here.'));
}
