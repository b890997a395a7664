import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** How long a child server may take to stop once asked before it is killed. */
const CHILD_STOP_GRACE_MS = 10_000;

/**
 * Asks a child server to stop (`ask`, only while its IPC channel is open) and waits for it to exit; kills it
 * if it is still running after CHILD_STOP_GRACE_MS. Safe when the child has exited or disconnected already.
 */
export async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
