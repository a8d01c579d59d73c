import type {Clock} from '../../src/sys/clock.js'

/** Wall time at monotonic 0 (2026-11-23T10:00:00Z), so written timestamps are predictable. */
export const WALL0 = Date.UTC(2026, 10, 23, 10, 0, 0)

/**
 * A clock that only moves when the test moves it: every sleep (and so every timer of
 * sys/clock.ts `after`/`every`) waits in a queue; `runUntil` lets the code under test run
 * (microtasks and immediates) and then wakes the earliest sleeper, one at a time, until the
 * condition holds. An aborted sleep leaves the queue at once, as the real one does.
 */
export function fakeClock() {
  let now = 0
  let seq = 0
  const sleepers: {at: number; seq: number; wake: () => void}[] = []
  const clock: Clock = {
    now: () => now,
    wall: () => new Date(WALL0 + now),
    sleep(ms, signal) {
      if (!(ms > 0) || signal?.aborted) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const s = {at: now + ms, seq: seq++, wake: () => resolve()}
        sleepers.push(s)
        signal?.addEventListener('abort', () => {
          const i = sleepers.indexOf(s)
          if (i >= 0) sleepers.splice(i, 1)
          resolve()
        }, {once: true})
      })
    },
  }
  /** Lets everything that is not waiting on the clock run. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
  }
  return {
    clock,
    now: () => now,
    /** Sleepers still queued (a finished op must leave none: no timer outlives its use). */
    pending: () => sleepers.length,
    settle,
    /** Runs the world, waking sleepers in time order, until `done()` holds; fails past `limitMs` of fake time. */
    async runUntil(what: string, done: () => boolean, limitMs = 24 * 3_600_000): Promise<void> {
      for (;;) {
        await settle()
        if (done()) return
        sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq)
        const next = sleepers.shift()
        if (!next || next.at > limitMs) throw new Error(`${what}: not reached by ${now}ms of fake time${next ? '' : ' (nothing left to wake)'}`)
        now = next.at
        next.wake()
      }
    },
  }
}
