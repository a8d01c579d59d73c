// The external commands medic is waiting on (sys/exec.ts registers them). Its own module,
// with no imports, so the runner can stop them on an interrupt without loading
// node:child_process on every run (start-up: docs/startup.md).

/**
 * The external commands still running, by pid: medic's own children, not yet reaped (each
 * leaves the set on its 'exit'), so a pid here cannot have been reused. `group`: it leads
 * its own process group (runDetached); otherwise it shares medic's.
 */
const inFlight = new Map<number, {group: boolean}>()

export function track(child: {pid?: number; once(e: 'exit', f: () => void): unknown}, group: boolean): void {
  const pid = child.pid
  if (!pid) return
  inFlight.set(pid, {group})
  child.once('exit', () => inFlight.delete(pid))
}

/**
 * When medic is interrupted and exits at once, the commands it is waiting on must not run
 * on without it (a --stop-cmd in its own session never sees a Ctrl+C; a command in medic's
 * group never sees a SIGTERM sent to medic alone): SIGTERM to each one's process group (or
 * to it, if it shares medic's group). The same exception to the signal gate as the
 * timeout's SIGKILL in sys/exec.ts (see sys/signal-gate.ts). Returns the pids signalled.
 */
export function stopInFlight(sig: NodeJS.Signals = 'SIGTERM'): number[] {
  const done: number[] = []
  for (const [pid, {group}] of inFlight) {
    try {
      process.kill(group ? -pid : pid, sig)
      done.push(pid)
    } catch {}
  }
  inFlight.clear()
  return done
}
