// A way for code deep inside the child (model loaders, the EP probe) to report to the parent
// without a handle on the host: `reportEp` after a session is created tells the user which
// execution provider really ran a model (a CUDA request may have fallen back to CPU).
import type { BackendEvent, ConversionEvent, LogEvent } from '../../protocol/inference';

let sink: ((event: BackendEvent) => void) | undefined;

/** Installed by the host; events reported before that (or in tests without a host) are dropped. */
export function setBackendEventSink(fn: ((event: BackendEvent) => void) | undefined): void {
  sink = fn;
}

export function reportEp(model: string, provider: string): void {
  sink?.({ type: 'ep', data: { model, provider } });
}

export function reportLog(level: LogEvent['data']['level'], message: string): void {
  sink?.({ type: 'log', data: { level, message } });
}

export function reportConversion(data: ConversionEvent['data']): void {
  sink?.({ type: 'conversion', data });
}
