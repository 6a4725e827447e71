// Canvas colours come from VS Code's theme variables: a canvas cannot use CSS, so the values are
// read from the computed style and written into litegraph's colour globals. VS Code swaps the
// variables on a theme change (and the body class), so a MutationObserver re-applies them.

import { LiteGraph, type LGraphCanvas } from '@comfyorg/litegraph';

type Globals = Record<string, unknown>;

/** litegraph global ← first non-empty `--vscode-*` variable. Unset variables keep litegraph's default. */
const GLOBAL_VARS: [string, string[]][] = [
  ['NODE_DEFAULT_BGCOLOR', ['--vscode-editorWidget-background', '--vscode-sideBar-background']],
  ['NODE_DEFAULT_COLOR', ['--vscode-sideBarSectionHeader-background', '--vscode-editorGroupHeader-tabsBackground']],
  ['NODE_DEFAULT_BOXCOLOR', ['--vscode-editorWidget-border', '--vscode-contrastBorder']],
  ['NODE_TITLE_COLOR', ['--vscode-foreground']],
  ['NODE_SELECTED_TITLE_COLOR', ['--vscode-focusBorder']],
  ['NODE_TEXT_COLOR', ['--vscode-descriptionForeground', '--vscode-foreground']],
  ['WIDGET_BGCOLOR', ['--vscode-input-background']],
  ['WIDGET_OUTLINE_COLOR', ['--vscode-input-border', '--vscode-panel-border']],
  ['WIDGET_TEXT_COLOR', ['--vscode-input-foreground', '--vscode-foreground']],
  ['WIDGET_SECONDARY_TEXT_COLOR', ['--vscode-input-placeholderForeground', '--vscode-descriptionForeground']],
];

const DEFAULTS: Globals = {};
const defaultGrid = new WeakMap<LGraphCanvas, string>();

export interface ThemeColours {
  background?: string;
  error: string;
  running: string;
  progress: string;
}

function cssVar(style: CSSStyleDeclaration, names: string[]): string | undefined {
  for (const n of names) {
    const v = style.getPropertyValue(n).trim();
    if (v) return v;
  }
  return undefined;
}

export function readThemeColours(el: Element = document.documentElement): ThemeColours {
  const style = getComputedStyle(el);
  return {
    background: cssVar(style, ['--vscode-editor-background']),
    error: cssVar(style, ['--vscode-errorForeground', '--vscode-editorError-foreground']) ?? '#f14c4c',
    running: cssVar(style, ['--vscode-testing-iconPassed', '--vscode-charts-green']) ?? '#3fb950',
    progress: cssVar(style, ['--vscode-progressBar-background', '--vscode-focusBorder']) ?? '#0e70c0',
  };
}

/** Applies theme variables to litegraph's globals and the canvas; returns the extra colours. */
export function applyTheme(canvas: LGraphCanvas, el: Element = document.documentElement): ThemeColours {
  const style = getComputedStyle(el);
  const globals = LiteGraph as unknown as Globals;
  for (const [key, vars] of GLOBAL_VARS) {
    if (!(key in DEFAULTS)) DEFAULTS[key] = globals[key];
    globals[key] = cssVar(style, vars) ?? DEFAULTS[key];
  }
  const colours = readThemeColours(el);
  if (!defaultGrid.has(canvas)) defaultGrid.set(canvas, canvas.background_image);
  if (colours.background) canvas.clear_background_color = colours.background;
  // The stock grid image is tuned for a dark background; on light themes it reads as noise.
  const light = document.body.classList.contains('vscode-light') || document.body.classList.contains('vscode-high-contrast-light');
  canvas.background_image = light ? '' : defaultGrid.get(canvas) ?? '';
  canvas.setDirty(true, true);
  return colours;
}

export function watchTheme(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
