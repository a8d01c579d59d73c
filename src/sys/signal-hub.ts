/**
 * The signals that ask medic itself to stop or restart (Ctrl+C, `kill`, a closed terminal,
 * `kill -HUP`), as subscriptions: ops learn of them without touching `process`, and tests
 * hand ops a fake hub and raise signals on cue. While anyone subscribes to a signal,
 * node's default for it (die at once) is replaced by the subscribers, so a command can
 * undo what it did before it ends; when the last one unsubscribes, the default is back.
 * SIGKILL cannot be caught; see sys/drill-helpers.ts for what still happens then.
 * This is the only place in src/ that calls `process.on` for a signal.
 */
export type HubSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

export const HUB_SIGNALS: readonly HubSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

export interface SignalHub {
  /** Calls `fn` each time one of `signals` (default: all three) arrives, until the returned unsubscribe. */
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
