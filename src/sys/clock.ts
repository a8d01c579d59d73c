import {timerMs} from '../core/duration.js'

/**
 * Monotonic milliseconds (CLOCK_MONOTONIC through hrtime). Not `performance.now()`: its
 * first call loads perf_hooks, ~1.2 ms of every run's start (docs/startup.md).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Monotonic `now()` for every duration and deadline; `wall()` only for timestamps written out. */
export interface Clock {
  now(): number
  wall(): Date
  /** Resolves after `ms`, or at once when `signal` aborts (never rejects), so no timer outlives its use. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: monotonicMs,
  wall: () => new Date(),
  // A plain timer (node:timers/promises is a module more on every run's start).
  sleep: (ms, signal) =>
    ms > 0 && !signal?.aborted
      ? new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            signal?.removeEventListener('abort', done)
            resolve()
          }
          const timer = setTimeout(done, timerMs(ms))
          signal?.addEventListener('abort', done, {once: true})
        })
      : Promise.resolve(),
}

/**
 * `fn` once, `ms` from now on `clock`, unless cancelled first: the timer of ops, on the
 * clock they were given (a fake one in tests). Returns the cancel.
 */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  const ac = new AbortController()
  void clock.sleep(ms, ac.signal).then(() => {
    if (!ac.signal.aborted) fn()
  })
  return () => ac.abort()
}

/** `fn` every `ms` (at least 1) on `clock` (like setInterval: a slow `fn` does not delay the next), until cancelled. */
export function every(clock: Clock, ms: number, fn: () => unknown): () => void {
  ms = Math.max(1, ms) // a sleep of 0 resolves at once: the loop would never yield to a timer
  const ac = new AbortController()
  void (async () => {
    for (;;) {
      await clock.sleep(ms, ac.signal)
      if (ac.signal.aborted) return
      void fn()
    }
  })()
  return () => ac.abort()
}
