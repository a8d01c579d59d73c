/**
 * `medic boot`'s wait for the supervisor it started, as a step function of `now` (like
 * core/supervisor-machine.ts): the ops loop reads the supervisor's state file, asks
 * `bootObserve` what to do, probes when told to and hands the result to `bootProbed`, and
 * sleeps as long as told. Nothing here reads a clock or the disk; `now` is monotonic ms.
 */

export interface BootWait {
  deadline: number
  /** The deadline is --timeout's, not --wait's. */
  byTimeout: boolean
  /** Without a probe, "answers" means the same child kept running this long. */
  settleMs: number
  seen: {pid: number; at: number} | null
  /** What was last seen, for the verdict when time runs out. */
  last: string
}

/** The supervisor boot started, as its state file shows it; null until the file is that supervisor's. */
export interface SupervisorSeen {
  state: string
  alert: string | null
  childPid: number
}

export type BootNext =
  | {kind: 'exited'; code: number | null}
  | {kind: 'fatal'; alert: string | null}
  /** Probe the service now; with no probe configured, it answers once `settled`. */
  | {kind: 'probe'; childPid: number; settled: boolean; runningMs: number}
  | {kind: 'healthy'; detail: string}
  | {kind: 'timeout'; last: string}
  | {kind: 'sleep'; ms: number}

export interface BootStep {
  state: BootWait
  next: BootNext
}

const POLL_MS = 50

export function startBootWait(now: number, waitMs: number, deadlineAt: number | null): BootWait {
  const deadline = Math.min(now + waitMs, deadlineAt ?? Infinity)
  return {deadline, byTimeout: deadline === deadlineAt, settleMs: Math.min(1000, waitMs / 2), seen: null, last: 'not started yet'}
}

/** `exitCode` is undefined while the supervisor runs. */
export function bootObserve(w: BootWait, o: {exitCode: number | null | undefined; supervisor: SupervisorSeen | null}, now: number): BootStep {
  if (o.exitCode !== undefined) return {state: w, next: {kind: 'exited', code: o.exitCode}}
  const s = o.supervisor
  if (!s) return waitOrTimeout(w, now)
  const last = `supervisor ${s.state}${s.alert ? `: ${s.alert}` : ''}`
  if (s.state === 'fatal') return {state: {...w, last}, next: {kind: 'fatal', alert: s.alert}}
  if (s.state !== 'running') return waitOrTimeout({...w, last}, now)
  const seen = !w.seen || w.seen.pid !== s.childPid ? {pid: s.childPid, at: now} : w.seen
  return {state: {...w, last, seen}, next: {kind: 'probe', childPid: s.childPid, settled: now - seen.at >= w.settleMs, runningMs: now - seen.at}}
}

export function bootProbed(w: BootWait, probe: {ok: boolean; detail: string}, now: number): BootStep {
  const state = {...w, last: `supervisor running; probe ${probe.detail}`}
  return probe.ok ? {state, next: {kind: 'healthy', detail: probe.detail}} : waitOrTimeout(state, now)
}

function waitOrTimeout(w: BootWait, now: number): BootStep {
  return now >= w.deadline ? {state: w, next: {kind: 'timeout', last: w.last}} : {state: w, next: {kind: 'sleep', ms: Math.min(POLL_MS, w.deadline - now)}}
}
