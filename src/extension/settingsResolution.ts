// Which setting values Marble may use, decided without vscode so the trust rules are unit-tested.
// A workspace is a folder someone else may have written: in an untrusted one, the settings that
// name paths Marble loads or writes (restrictedConfigurations in package.json) only come from the
// user's own settings.

/** The layers of one setting, as `WorkspaceConfiguration.inspect` returns them. */
export interface SettingLayers<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** The value to use: workspace layers only when the workspace is trusted. */
export function effectiveSetting<T>(layers: SettingLayers<T> | undefined, trusted: boolean, fallback: T): T {
  if (!layers) return fallback;
  if (trusted) {
    if (layers.workspaceFolderValue !== undefined) return layers.workspaceFolderValue;
    if (layers.workspaceValue !== undefined) return layers.workspaceValue;
  }
  if (layers.globalValue !== undefined) return layers.globalValue;
  if (layers.defaultValue !== undefined) return layers.defaultValue;
  return fallback;
}

export interface ModelsFolderInputs {
  /** `marble.modelsFolders` layers (machine scope: normally only the global layer is set). */
  setting: SettingLayers<unknown> | undefined;
  trusted: boolean;
  /** `<globalStorage>/models`: always a candidate so downloads have a home. */
  globalStorageModels: string;
  /** `<extension>/models` when that folder exists (development checkouts, bundled test models). */
  extensionModels?: string;
  /** MARBLE_TEST_MODE=1 → the MARBLE_MODELS env var (path-delimited) replaces the setting. */
  testMode: boolean;
  envModels?: string;
  /** `path.delimiter` of the platform (':' or ';'). */
  delimiter: string;
}

function cleanList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`Setting ${what}: expected an array of folder paths, got ${JSON.stringify(value)}`);
  }
  return value.map((v) => v.trim()).filter((v) => v !== '');
}

/** The model folders to hand to the backend, configured ones first, without duplicates. */
export function resolveModelsFolders(inp: ModelsFolderInputs): string[] {
  let configured: string[];
  if (inp.testMode && inp.envModels !== undefined && inp.envModels.trim() !== '') {
    configured = inp.envModels.split(inp.delimiter).map((s) => s.trim()).filter(Boolean);
  } else {
    configured = cleanList(effectiveSetting(inp.setting, inp.trusted, [] as unknown), 'marble.modelsFolders');
  }
  const all = [...configured, inp.globalStorageModels, ...(inp.extensionModels ? [inp.extensionModels] : [])];
  return [...new Set(all)];
}

/** Execution providers the `marble.executionProvider` setting accepts. */
export const EXECUTION_PROVIDERS = ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu'] as const;
export type ExecutionProviderSetting = (typeof EXECUTION_PROVIDERS)[number];

export function checkExecutionProvider(value: unknown): ExecutionProviderSetting {
  if (typeof value === 'string' && (EXECUTION_PROVIDERS as readonly string[]).includes(value)) {
    return value as ExecutionProviderSetting;
  }
  throw new Error(`Setting marble.executionProvider: expected one of ${EXECUTION_PROVIDERS.join(', ')}, got ${JSON.stringify(value)}`);
}

/**
 * A folder setting relative to a workspace folder (`setting` names it in errors). Absolute paths
 * and `..` escapes are refused: Marble's files stay inside the workspace, where the Explorer and
 * the references can see them.
 */
export function checkWorkspaceFolderSetting(value: unknown, setting: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`Setting ${setting}: expected a folder path relative to the workspace, got ${JSON.stringify(value)}`);
  }
  const rel = value.trim().replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  if (rel.startsWith('/') || /^[a-zA-Z]:/.test(rel) || rel.split('/').includes('..')) {
    throw new Error(`Setting ${setting}: "${value}" must stay inside the workspace (no absolute path, no "..")`);
  }
  return rel === '' ? '.' : rel;
}

/** The output folder relative to a workspace folder (see checkWorkspaceFolderSetting). */
export function checkOutputFolder(value: unknown): string {
  return checkWorkspaceFolderSetting(value, 'marble.outputFolder');
}

/** The folder LoadImage reads from, relative to a workspace folder. */
export function checkInputFolder(value: unknown): string {
  return checkWorkspaceFolderSetting(value, 'marble.inputFolder');
}
