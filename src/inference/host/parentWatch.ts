// The child must never outlive its parent: a VS Code window that crashes or is killed does not
// run its deactivate hook, and an orphaned child would keep gigabytes of model weights resident.
// 'disconnect' covers a closed IPC channel; the poll covers a parent that died without closing
// it cleanly (the child is re-parented, so `process.ppid` changes), and MARBLE_PARENT_PID names
// the real parent when a launcher sits in between.

export interface ParentWatchOptions {
  exit(code: number): void;
  intervalMs?: number;
  /** A pid that must stay alive (default: MARBLE_PARENT_PID from the environment). */
  parentPid?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export function watchParent(opts: ParentWatchOptions): () => void {
  const initialPpid = process.ppid;
  const parentPid = opts.parentPid ?? (Number(process.env.MARBLE_PARENT_PID) || undefined);
  const onDisconnect = () => opts.exit(0);
  process.on('disconnect', onDisconnect);
  const timer = setInterval(() => {
    if (!process.connected || process.ppid !== initialPpid || (parentPid !== undefined && !alive(parentPid))) opts.exit(0);
  }, opts.intervalMs ?? 2000);
  timer.unref();
  return () => {
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
  };
}
