// Canvas colours come from VS Code's theme variables: a canvas cannot use CSS, so the values are
// read from the computed style and written into litegraph's colour globals. VS Code swaps the
// variables on a theme change (and the body class), so a MutationObserver re-applies them.

import { LiteGraph, LGraphCanvas, LGraphNode } from '@comfyorg/litegraph';

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

/**
 * Link and slot colours by type, ComfyUI's own (ComfyUI_frontend src/assets/palettes/dark.json
 * and light.json, `node_slot`): a ComfyUI user reads the graph by these colours. The light set
 * is darker so links stay visible on a light editor background.
 */
export const SLOT_COLOURS: Record<'dark' | 'light', Record<string, string>> = {
  dark: {
    CLIP: '#FFD500', CLIP_VISION: '#A8DADC', CLIP_VISION_OUTPUT: '#ad7452', CONDITIONING: '#FFA931',
    CONTROL_NET: '#6EE7B7', IMAGE: '#64B5F6', LATENT: '#FF9CF9', MASK: '#81C784', MODEL: '#B39DDB',
    STYLE_MODEL: '#C2FFAE', VAE: '#FF6E6E', NOISE: '#B0B0B0', GUIDER: '#66FFFF', SAMPLER: '#ECB4B4',
    SIGMAS: '#CDFFCD', TAESD: '#DCC274',
  },
  light: {
    CLIP: '#FFA726', CLIP_VISION: '#5C6BC0', CLIP_VISION_OUTPUT: '#8D6E63', CONDITIONING: '#EF5350',
    CONTROL_NET: '#66BB6A', IMAGE: '#42A5F5', LATENT: '#AB47BC', MASK: '#9CCC65', MODEL: '#7E57C2',
    STYLE_MODEL: '#D4E157', VAE: '#FF7043', NOISE: '#B0B0B0', GUIDER: '#66FFFF', SAMPLER: '#ECB4B4',
    SIGMAS: '#CDFFCD', TAESD: '#DCC274',
  },
};

/** Untyped links (INT, STRING, …): ComfyUI's LINK_COLOR per palette. */
const DEFAULT_LINK: Record<'dark' | 'light', string> = { dark: '#9A9', light: '#4CAF50' };

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
  // The canvas copied this global when it was built; later theme changes must reach it too.
  canvas.node_title_color = String(globals.NODE_TITLE_COLOR);
  const colours = readThemeColours(el);
  if (!defaultGrid.has(canvas)) defaultGrid.set(canvas, canvas.background_image);
  if (colours.background) canvas.clear_background_color = colours.background;
  // The stock grid image is tuned for a dark background; on light themes it reads as noise.
  const light = isLightTheme();
  canvas.background_image = light ? '' : defaultGrid.get(canvas) ?? '';
  applySlotColours(canvas, light ? 'light' : 'dark');
  patchNodeRendering();
  lightMode = light;
  canvas.setDirty(true, true);
  return colours;
}

/**
 * A node colour from the file (ComfyUI's palette is made for dark backgrounds: #223, #335, #000)
 * lifted toward white for a light theme, so dark title text stays readable on it. Like ComfyUI's
 * light palette, only how it is drawn changes; the file keeps its colour. Non-hex colours pass.
 */
export function lightenForLightTheme(colour: string, amount = 0.55): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour.trim());
  if (!m) return colour;
  const h = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!;
  const rgb = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return `#${rgb.map((c) => Math.round(c + (255 - c) * amount).toString(16).padStart(2, '0')).join('')}`;
}

let lightMode = false;
let renderingPatched = false;

/** Draws file-coloured nodes lightened while a light theme is active (see lightenForLightTheme). */
function patchNodeRendering(): void {
  if (renderingPatched) return;
  renderingPatched = true;
  const proto = LGraphNode.prototype as unknown as Record<string, unknown>;
  for (const [prop, own] of [['renderingColor', 'color'], ['renderingBgColor', 'bgcolor']] as const) {
    const base = Object.getOwnPropertyDescriptor(LGraphNode.prototype, prop)?.get;
    if (!base) continue;
    Object.defineProperty(proto, prop, {
      configurable: true,
      get(this: Record<string, unknown>) {
        const c = base.call(this) as string;
        return lightMode && typeof this[own] === 'string' ? lightenForLightTheme(c) : c;
      },
    });
  }
}

export function isLightTheme(): boolean {
  return document.body.classList.contains('vscode-light') || document.body.classList.contains('vscode-high-contrast-light');
}

/** Links and slots coloured by type (litegraph reads link_type_colors and the canvas's byType maps). */
export function applySlotColours(canvas: LGraphCanvas, kind: 'dark' | 'light'): void {
  const palette = SLOT_COLOURS[kind];
  Object.assign(LGraphCanvas.link_type_colors, palette);
  canvas.default_connection_color_byType = { ...palette };
  canvas.default_connection_color_byTypeOff = { ...palette };
  canvas.default_link_color = DEFAULT_LINK[kind];
}

export function watchTheme(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
