// The `marble.backends` setting and server tokens, without `vscode`: which entries are usable,
// and how a stored token becomes a request header.
import { normalizeServerUrl } from './comfyHttp';

export const BUILTIN = 'builtin';
export const SPREAD = 'spread';

/** The entries of `marble.backends`: 'builtin' and normalized server URLs (bad entries are reported, not used). */
export function parseBackendsSetting(raw: unknown): { entries: string[]; problems: string[] } {
  const list = Array.isArray(raw) ? raw : [];
  const entries: string[] = [];
  const problems: string[] = [];
  for (const item of list) {
    const value = typeof item === 'string' ? item : typeof item === 'object' && item && typeof (item as { url?: unknown }).url === 'string' ? (item as { url: string }).url : undefined;
    if (value === undefined) {
      problems.push(`marble.backends: ${JSON.stringify(item)} is neither "builtin" nor a server URL`);
      continue;
    }
    if (value.trim().toLowerCase() === BUILTIN) {
      if (!entries.includes(BUILTIN)) entries.push(BUILTIN);
      continue;
    }
    try {
      const url = normalizeServerUrl(value);
      if (!entries.includes(url)) entries.push(url);
    } catch (e) {
      problems.push(`marble.backends: ${(e as Error).message}`);
    }
  }
  if (entries.length === 0) entries.push(BUILTIN);
  return { entries, problems };
}

/** A token as a header: `Name: value` stays a header, anything else is a bearer token. */
export function authHeader(secret: string | undefined): Record<string, string> {
  if (!secret) return {};
  const m = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(secret.trim());
  return m ? { [m[1]]: m[2] } : { Authorization: `Bearer ${secret.trim()}` };
}

