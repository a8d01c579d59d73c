import {formatMs, timerMs} from '../core/duration.js'
import {monotonicMs} from './clock.js'

/**
 * The command's `--timeout`, for every wait on the outside world. One command runs per
 * process, so the deadline is the process's: the runner sets it, and every HTTP request,
 * TCP probe and external command in sys/ takes `timeLeft()` as its own timeout — none
 * outlives it. What is being waited on is recorded, so that when the deadline passes the
 * runner can tell a service that hung (ALERT) from medic itself hanging (UNKNOWN).
 */
let deadlineAt: number | null = null
let timeoutMs = 0
const waits = new Map<number, string>()
let nextWait = 0

export function setDeadline(at: number | null, ms = 0): void {
  deadlineAt = at
  timeoutMs = ms
}

/** The deadline has passed (never without one). */
export function pastDeadline(): boolean {
  return deadlineAt !== null && monotonicMs() >= deadlineAt
}

/** `ms`, cut to what is left before the deadline (at least 1 ms: 0 means "no timeout" to execFile), and to Node's timer limit. */
export function timeLeft(ms: number): number {
  const left = deadlineAt === null ? ms : Math.min(ms, deadlineAt - monotonicMs())
  return Math.max(1, timerMs(left))
}

/** The limit a wait had: its own `requested` timeout, or `--timeout` when that cut it shorter (`effective`). */
export function limitText(requested: number, effective: number): string {
  return effective < requested ? `--timeout ${formatMs(timeoutMs)}` : formatMs(requested)
}

/** Runs a wait on something outside medic (a service, its manager), recorded while it lasts. */
export async function serviceWait<T>(what: string, work: () => Promise<T>): Promise<T> {
  const id = nextWait++
  waits.set(id, what)
  try {
    return await work()
  } finally {
    waits.delete(id)
  }
}

/** What medic is waiting on right now, or null when it is busy with its own work. */
export function waitingOn(): string | null {
  for (const w of waits.values()) return w
  return null
}
