import type {HubSignal, SignalHub} from '../../src/sys/signal-hub.js'

/** A recording SignalHub for ops tests: `raise` delivers a signal to the current subscribers; `count` says how many are left. */
export function fakeSignalHub(): SignalHub & {raise(s: HubSignal): void; count(): number} {
  const subs = new Set<{fn: (s: HubSignal) => void; signals: readonly HubSignal[]}>()
  return {
    subscribe(fn, signals = ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      const sub = {fn, signals}
      subs.add(sub)
      return () => void subs.delete(sub)
    },
    raise(s) {
      for (const sub of [...subs]) if (sub.signals.includes(s)) sub.fn(s)
    },
    count: () => subs.size,
  }
}
