// Types for vsixContents.mjs (used by scripts/package.mjs and test/unit/extension/vsixContents.test.ts).
export function listZip(file: string): string[];
export const TARGETS: Record<string, { ort: string; sharp: string; libvips: boolean }>;
export function checkVsixEntries(entries: string[], target: string): string[];
