// Command handlers that cannot fail silently: a thrown error becomes an error message with a
// "Show Logs" action and its stack goes to the log (drawio's registerFailableCommand pattern).
import * as vscode from 'vscode';

/** Thrown to tell the user something with a plain message (no "failed:" prefix, no stack). */
export class UserFacingError extends Error {
  constructor(message: string, readonly actions: { title: string; command: string; args?: unknown[] }[] = []) {
    super(message);
    this.name = 'UserFacingError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows `e` to the user and logs it; never throws. */
export async function reportError(log: vscode.LogOutputChannel, context: string, e: unknown): Promise<void> {
  const message = errorMessage(e);
  log.error(`${context}: ${e instanceof Error && e.stack ? e.stack : message}`);
  const extra = e instanceof UserFacingError ? e.actions : [];
  const choice = await vscode.window.showErrorMessage(
    // The context is for the log; the user reads the message alone (no internal names).
    e instanceof UserFacingError || message.startsWith('Marble:') ? message : `Marble: ${message}`,
    ...extra.map((a) => a.title),
    'Show Logs',
  );
  if (choice === 'Show Logs') log.show(true);
  const action = extra.find((a) => a.title === choice);
  if (action) await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
}

/** Registers a command whose failures are reported instead of lost; returns the handler's value. */
export function registerFailableCommand(
  log: vscode.LogOutputChannel,
  id: string,
  handler: (...args: any[]) => unknown,
): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await handler(...args);
    } catch (e) {
      if (e instanceof vscode.CancellationError) return undefined;
      void reportError(log, id.replace(/^marble\./, ''), e);
      return undefined;
    }
  });
}

/** Refuses to go on in Restricted Mode: running a workflow loads models named by the workspace. */
export function requireTrust(what: string): void {
  if (!vscode.workspace.isTrusted) {
    throw new UserFacingError(
      `Marble: ${what} is disabled in Restricted Mode. Trust this workspace to run workflows.`,
      [{ title: 'Manage Workspace Trust', command: 'workbench.trust.manage' }],
    );
  }
}
