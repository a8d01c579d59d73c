/**
 * The signals that ask medic itself to stop or restart (Ctrl+C, `kill`, a closed terminal,
 * `kill -HUP`), as subscriptions: ops learn of them without touching `process`, and tests
 * hand ops a fake hub and raise signals on cue. While anyone subscribes to a signal,
 * node's default for it (die at once) is replaced by the subscribers, so a command can
 * undo what it did before it ends; when the last one unsubscribes, the default is back.
 * SIGKILL cannot be caught; see sys/drill-helpers.ts for what still happens then.
 * The job-control stops SIGTSTP (Ctrl+Z) and SIGTTIN are delivered only to who names them: a
 * subscriber replaces their default (medic stops), which is how a drill keeps its fault window
 * from being suspended. SIGTTOU is deliberately not offered: caught (not ignored), a background
 * write to a terminal with `stty tostop` is restarted forever — medic spins at 100% CPU (measured);
 * node cannot set SIG_IGN.
 * This is the only place in src/ that calls `process.on` for a signal.
 */
export type JobControlSignal = 'SIGTSTP' | 'SIGTTIN'
export type HubSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | JobControlSignal

export const HUB_SIGNALS: readonly HubSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
export const JOB_CONTROL_SIGNALS: readonly JobControlSignal[] = ['SIGTSTP', 'SIGTTIN']

export interface SignalHub {
  /** Calls `fn` each time one of `signals` (default: SIGINT, SIGTERM, SIGHUP) arrives, until the returned unsubscribe. */
  subscribe(fn: (signal: HubSignal) => void, signals?: readonly HubSignal[]): () => void
}

export const processSignalHub: SignalHub = {
  subscribe(fn, signals = HUB_SIGNALS) {
    const handlers = signals.map((s) => [s, () => fn(s)] as const)
    for (const [s, h] of handlers) process.on(s, h)
    let done = false
    return () => {
      if (done) return
      done = true
      for (const [s, h] of handlers) process.off(s, h)
    }
  },
}

/**
 * Listeners that only tidy up on a signal (the spinner's cursor restore: ora through
 * signal-exit, cli/terminal.ts records them): they do not handle it.
 */
export const tidyListeners = new Set<(...args: unknown[]) => void>()

/**
 * The last resort for a signal nobody handles: `fn` runs only when no other listener (a
 * subscriber here, or one of the few ops that listen directly: run-dev-safe, kill-trace)
 * but tidy ones is there. The runner ends an interrupted run with its verdict this way.
 */
export function whenUnhandled(fn: (signal: HubSignal) => void, signals: readonly HubSignal[] = HUB_SIGNALS): () => void {
  const handlers = signals.map((s) => {
    const h = () => {
      if (process.listeners(s).some((l) => l !== h && !tidyListeners.has(l as (...args: unknown[]) => void))) return
      fn(s)
    }
    return [s, h] as const
  })
  for (const [s, h] of handlers) process.on(s, h)
  return () => {
    for (const [s, h] of handlers) process.off(s, h)
  }
}

let held = false
const ignore = () => {}
/**
 * After an interrupt has decided the verdict, a second signal (a held Ctrl+C, a supervisor
 * repeating SIGTERM) must not find node's default back and kill medic by the signal before
 * it exits with the verdict's code: from here until exit, the three signals are ignored.
 */
export function holdUntilExit(): void {
  if (held) return
  held = true
  for (const s of HUB_SIGNALS) process.on(s, ignore)
}
