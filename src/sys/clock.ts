import {performance} from 'node:perf_hooks'
import {setTimeout as delay} from 'node:timers/promises'

/** Monotonic `now()` for every duration and deadline; `wall()` only for timestamps written out. */
export interface Clock {
  now(): number
  wall(): Date
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => new Date(),
  sleep: (ms) => (ms > 0 ? delay(ms) : Promise.resolve()),
}
