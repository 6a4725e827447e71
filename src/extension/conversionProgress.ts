// One progress notification per `.safetensors` model being converted to ONNX in the inference
// process: "Preparing <name> for ONNX Runtime… 43%", closed when the conversion ends. Fed by the
// child's typed `conversion` events; the notification API is injected so this logic is tested
// without VS Code.
import type { ConversionEvent } from '../protocol/inference';

export interface ProgressSink {
  report(value: { message?: string; increment?: number }): void;
}

/** Shows a notification until `task` settles (vscode.window.withProgress in the extension). */
export type ShowProgress = (task: (progress: ProgressSink) => Promise<void>) => void;

interface Open {
  percent: number;
  sink?: ProgressSink;
  close: () => void;
  message: string;
}

export function conversionMessage(name: string, percent: number, waiting: boolean): string {
  return `Preparing ${name} for ONNX Runtime… ${percent}%${waiting ? ' (another Marble process is converting it)' : ''}`;
}

export class ConversionNotifications {
  private readonly open = new Map<string, Open>();

  constructor(private readonly show: ShowProgress) {}

  handle(e: ConversionEvent): void {
    const { file, name, state, value } = e.data;
    if (state === 'done' || state === 'failed') {
      this.open.get(file)?.close();
      this.open.delete(file);
      return;
    }
    const percent = Math.max(0, Math.min(100, Math.floor(value * 100)));
    let entry = this.open.get(file);
    if (!entry) {
      const created: Open = { percent, close: () => undefined, message: conversionMessage(name, percent, state === 'waiting') };
      entry = created;
      this.open.set(file, created);
      this.show((progress) => new Promise<void>((resolve) => {
        created.sink = progress;
        created.close = resolve;
        progress.report({ message: created.message, increment: created.percent });
      }));
    }
    const message = conversionMessage(name, percent, state === 'waiting');
    if (percent === entry.percent && message === entry.message) return;
    const increment = Math.max(0, percent - entry.percent);
    entry.percent = Math.max(entry.percent, percent);
    entry.message = message;
    entry.sink?.report({ message, increment });
  }

  /** Files with a notification open now. */
  get active(): string[] {
    return [...this.open.keys()];
  }

  /** Closes every notification (the inference process exited or the extension is deactivated). */
  dispose(): void {
    for (const e of this.open.values()) e.close();
    this.open.clear();
  }
}
