// The host's transport over the fork IPC channel (`process.send`), see src/protocol/inference.ts.
import type { ChildMessage } from '../../protocol/inference';
import type { HostTransport } from './host';

export function processTransport(): HostTransport {
  if (!process.send) throw new Error('the inference process must be started with child_process.fork (no IPC channel)');
  return {
    send(message: ChildMessage, done?: () => void) {
      if (!process.connected) return;
      // `done` runs even on a send error: shutdown must not wait on a broken channel.
      process.send!(message, undefined, undefined, () => done?.());
    },
    onMessage(listener) {
      process.on('message', listener);
    },
  };
}
