/**
 * The signals that ask medic itself to stop (Ctrl+C, `kill`, a closed terminal), as a
 * subscription: ops learn of them without touching `process`. While anyone subscribes,
 * node's default (die at once) is replaced by the subscribers, so a command can undo
 * what it did before it ends. SIGKILL cannot be caught; see sys/drill-helpers.ts for
 * what still happens then.
 */
export type Interrupt = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

export interface Interrupts {
  subscribe(fn: (signal: Interrupt) => void): () => void
}

const SIGNALS: Interrupt[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

export const processInterrupts: Interrupts = {
  subscribe(fn) {
    const handlers = SIGNALS.map((s) => [s, () => fn(s)] as const)
    for (const [s, h] of handlers) process.on(s, h)
    return () => {
      for (const [s, h] of handlers) process.off(s, h)
    }
  },
}
