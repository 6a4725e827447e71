// The file name New Workflow and Open as Workflow write: whatever the user typed, once
// `.workflow.json` (`mine` → `mine.workflow.json`, `mine.json` → `mine.workflow.json`, never
// `mine.json.workflow.json`). Pure.

export const WORKFLOW_SUFFIX = '.workflow.json';

/** `path` with any trailing `.json` / `.workflow` / `.workflow.json` replaced by one `.workflow.json`. */
export function workflowFilePath(path: string): string {
  let base = path;
  for (;;) {
    const stripped = base.replace(/\.(workflow\.json|json|workflow)$/i, '');
    if (stripped === base || stripped.endsWith('/') || stripped === '') break;
    base = stripped;
  }
  return `${base}${WORKFLOW_SUFFIX}`;
}
