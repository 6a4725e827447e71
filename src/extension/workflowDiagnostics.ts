// Validation errors of a run as VS Code diagnostics on the `.workflow.json` text: each on the
// line of the node (or of the input) it concerns, so they show in the Problems panel, the text
// editor and git diff views. A run replaces the previous run's diagnostics; closing the
// document drops them.
import * as vscode from 'vscode';
import { getCoreSchema } from '../workflow/catalog/catalog';
import { locateNodes } from '../workflow/nodeLocations';
import type { ObjectInfoEntry } from '../workflow/objectInfo';
import type { NodeErrors } from '../protocol/webview';

export class WorkflowDiagnostics implements vscode.Disposable {
  private readonly _collection = vscode.languages.createDiagnosticCollection('marble');
  private readonly _subs: vscode.Disposable[];

  constructor(private readonly _schema: (classType: string) => ObjectInfoEntry | undefined = getCoreSchema) {
    this._subs = [vscode.workspace.onDidCloseTextDocument((d) => this._collection.delete(d.uri))];
  }

  clear(uri: vscode.Uri): void {
    this._collection.delete(uri);
  }

  /** Publishes `nodeErrors` (ComfyUI's /prompt shape) on `document`; returns what was published. */
  publish(document: vscode.TextDocument, nodeErrors: NodeErrors, message?: string): vscode.Diagnostic[] {
    const text = document.getText();
    const loc = locateNodes(text);
    const out: vscode.Diagnostic[] = [];
    const at = (s: { start: number; end: number } | undefined) =>
      s ? new vscode.Range(document.positionAt(s.start), document.positionAt(s.end)) : new vscode.Range(0, 0, 0, 0);
    for (const [id, entry] of Object.entries(nodeErrors)) {
      const schema = entry.class_type ? this._schema(entry.class_type) : undefined;
      for (const e of entry.errors ?? []) {
        const input = e.extra_info?.input_name;
        const where = input ? loc.input(id, input, schema) : loc.node(id);
        const what = `${entry.class_type ?? 'node'} #${id}${input ? ` · ${input}` : ''}`;
        const d = new vscode.Diagnostic(at(where), `${what}: ${e.message}${e.details && e.details !== input ? ` (${e.details})` : ''}`, vscode.DiagnosticSeverity.Error);
        d.source = 'Marble';
        d.code = e.type;
        out.push(d);
      }
    }
    if (out.length === 0 && message) {
      const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), message, vscode.DiagnosticSeverity.Error);
      d.source = 'Marble';
      out.push(d);
    }
    this._collection.set(document.uri, out);
    return out;
  }

  get(uri: vscode.Uri): readonly vscode.Diagnostic[] {
    return this._collection.get(uri) ?? [];
  }

  dispose(): void {
    this._collection.dispose();
    for (const s of this._subs) s.dispose();
  }
}
