/**
 * The supervisor of `medic supervise` as a pure state machine: transition(state, event,
 * now, config) → {state, actions, wakeAt}. The ops loop feeds it child exits, timer ticks,
 * probe results and signals, performs the actions and wakes it at `wakeAt`. `now` is
 * monotonic milliseconds; nothing here reads a clock.
 *
 * Semantics borrowed from supervisord and s6: a run counts as stable after `minUptimeMs`;
 * the first restart after a stable run is immediate, then the delay doubles from
 * `backoffBaseMs` up to `backoffCapMs`; exit code 78 (EX_CONFIG) is never retried; past
 * `maxRestarts` in `restartWindowMs` it raises one alert and keeps trying at the cap,
 * and clears the alert once a run is stable again.
 */

export interface SupervisorConfig {
  minUptimeMs: number
  backoffBaseMs: number
  backoffCapMs: number
  maxRestarts: number
  restartWindowMs: number
  probeFailures: number
}

export type Phase = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'fatal'

export interface SupervisorState {
  phase: Phase
  childStartedAt: number | null
  stable: boolean
  /** The delay the next unstable restart waits. */
  nextDelayMs: number
  nextStartAt: number | null
  /** Monotonic times of automatic restarts, within the window. */
  restarts: number[]
  probeFailures: number
  alert: string | null
  restartRequested: boolean
  starts: number
  lastExit: {code: number | null; signal: string | null; at: number; ranMs: number} | null
}

export type SupervisorEvent =
  | {type: 'start'}
  | {type: 'spawned'}
  | {type: 'spawn-failed'; error: string; permanent: boolean}
  | {type: 'exited'; code: number | null; signal: string | null}
  | {type: 'tick'}
  | {type: 'probe'; ok: boolean; detail: string}
  | {type: 'stop'; reason: string}
  | {type: 'restart'; reason: string}

export type SupervisorAction =
  | {type: 'free-port'}
  | {type: 'spawn'}
  | {type: 'terminate'; reason: string}
  /** Kill what the job left behind (its process group, session, cgroup, marked processes). */
  | {type: 'reap'}
  | {type: 'log'; line: string}
  | {type: 'alert'; line: string}
  | {type: 'clear-alert'; line: string}
  /** The supervisor ends: 0 stopped as asked, 2 the command cannot start (ALERT). */
  | {type: 'exit'; code: number; line?: string}

export interface Transition {
  state: SupervisorState
  actions: SupervisorAction[]
  /** When to deliver the next `tick`; null when only outside events can move it. */
  wakeAt: number | null
}

export const EX_CONFIG = 78

/**
 * Restart times kept (the latest, within the window): at least the budget, so the budget
 * decision is exact, and at least 1000, so a reader counting restarts in the window
 * (`health --loop-threshold`, `supervise status`) sees every one up to 1000. Without a
 * bound the history grew with every restart of a fast-restarting service, and with it
 * each event's copy of it and the state file written after every event.
 */
export const RESTART_HISTORY = 1000


export function initialState(cfg: SupervisorConfig): SupervisorState {
  return {phase: 'starting', childStartedAt: null, stable: false, nextDelayMs: cfg.backoffBaseMs, nextStartAt: null, restarts: [], probeFailures: 0, alert: null, restartRequested: false, starts: 0, lastExit: null}
}

const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${Math.round(ms / 100) / 10}s`)

function wake(s: SupervisorState, cfg: SupervisorConfig): number | null {
  if (s.phase === 'backoff') return s.nextStartAt
  if (s.phase === 'running' && !s.stable && s.childStartedAt !== null) return s.childStartedAt + cfg.minUptimeMs
  return null
}

function startNow(s: SupervisorState): {state: SupervisorState; actions: SupervisorAction[]} {
  return {state: {...s, phase: 'starting', nextStartAt: null, starts: s.starts + 1}, actions: [{type: 'free-port'}, {type: 'spawn'}]}
}

export function transition(s: SupervisorState, e: SupervisorEvent, now: number, cfg: SupervisorConfig): Transition {
  const out = (state: SupervisorState, actions: SupervisorAction[] = []): Transition => ({state, actions, wakeAt: wake(state, cfg)})

  switch (e.type) {
    case 'start': {
      const r = startNow(s)
      return out(r.state, [{type: 'log', line: 'starting'}, ...r.actions])
    }
    case 'spawned':
      if (s.phase === 'stopping') return out(s, [{type: 'terminate', reason: 'stop requested during start'}])
      return out({...s, phase: 'running', childStartedAt: now, stable: false, probeFailures: 0})

    case 'spawn-failed':
    case 'exited': {
      const code = e.type === 'exited' ? e.code : null
      const signal = e.type === 'exited' ? e.signal : null
      const ranMs = s.childStartedAt === null ? 0 : now - s.childStartedAt
      const base: SupervisorState = {...s, childStartedAt: null, lastExit: {code, signal, at: now, ranMs}, probeFailures: 0}
      const how = e.type === 'spawn-failed' ? `could not start: ${e.error}` : signal ? `killed by ${signal} after ${fmt(ranMs)}` : `exited with ${code} after ${fmt(ranMs)}`
      // Whatever the child left behind goes with it, after every exit (KillMode=control-group).
      const reap: SupervisorAction[] = e.type === 'exited' ? [{type: 'reap'}] : []
      if (s.phase === 'stopping') return out({...base, phase: 'stopped'}, [{type: 'log', line: `child ${how}; supervisor stopped`}, ...reap, {type: 'exit', code: 0}])
      if (s.restartRequested) {
        const r = startNow({...base, restartRequested: false})
        return out(r.state, [{type: 'log', line: `child ${how}; restarting as requested`}, ...reap, ...r.actions])
      }
      // A command that cannot start at all: nothing to supervise, the supervisor ends ALERT.
      if (e.type === 'spawn-failed' && e.permanent) {
        const why = `${how}: the command cannot start`
        return out({...base, phase: 'fatal', alert: why}, [{type: 'log', line: why}, {type: 'exit', code: 2, line: why}])
      }
      if (code === EX_CONFIG) {
        const why = `child exited with ${EX_CONFIG} (configuration error): not retried`
        return out({...base, phase: 'fatal', alert: why}, [{type: 'log', line: why}, ...reap, {type: 'alert', line: why}])
      }
      const stableRun = s.stable || ranMs >= cfg.minUptimeMs
      const window = base.restarts.filter((t) => t > now - cfg.restartWindowMs)
      const overBudget = window.length >= cfg.maxRestarts
      let delay = stableRun ? 0 : s.nextDelayMs
      const nextDelayMs = stableRun ? cfg.backoffBaseMs : Math.min(cfg.backoffCapMs, s.nextDelayMs * 2)
      const actions: SupervisorAction[] = []
      let alert = s.alert
      if (overBudget) {
        delay = cfg.backoffCapMs
        if (!alert) {
          alert = `restart budget spent: ${window.length} restarts in the last ${fmt(cfg.restartWindowMs)} (max ${cfg.maxRestarts}); retrying every ${fmt(cfg.backoffCapMs)}`
          actions.push({type: 'alert', line: alert})
        }
      }
      const state: SupervisorState = {...base, restarts: [...window, now].slice(-Math.max(cfg.maxRestarts, RESTART_HISTORY)), nextDelayMs, alert, stable: false}
      actions.unshift({type: 'log', line: `child ${how}; restart ${delay === 0 ? 'now' : `in ${fmt(delay)}`}`}, ...reap)
      if (delay === 0) {
        const r = startNow(state)
        return out(r.state, [...actions, ...r.actions])
      }
      return out({...state, phase: 'backoff', nextStartAt: now + delay}, actions)
    }

    case 'tick': {
      if (s.phase === 'backoff' && s.nextStartAt !== null && now >= s.nextStartAt) {
        const r = startNow(s)
        return out(r.state, r.actions)
      }
      if (s.phase === 'running' && !s.stable && s.childStartedAt !== null && now - s.childStartedAt >= cfg.minUptimeMs) {
        const state = {...s, stable: true, nextDelayMs: cfg.backoffBaseMs}
        if (s.alert) return out({...state, alert: null}, [{type: 'log', line: `stable for ${fmt(cfg.minUptimeMs)}; alert cleared`}, {type: 'clear-alert', line: `stable again after ${s.restarts.length} restarts in the last ${fmt(cfg.restartWindowMs)}`}])
        return out(state)
      }
      return out(s)
    }

    case 'probe': {
      if (s.phase !== 'running') return out(s)
      if (e.ok) return out({...s, probeFailures: 0})
      const failures = s.probeFailures + 1
      if (failures >= cfg.probeFailures) {
        return out({...s, probeFailures: 0}, [{type: 'log', line: `${failures} probes failed in a row (${e.detail}); restarting the child`}, {type: 'terminate', reason: 'unhealthy'}])
      }
      return out({...s, probeFailures: failures}, [{type: 'log', line: `probe failed (${failures}/${cfg.probeFailures}): ${e.detail}`}])
    }

    case 'stop':
      if (s.phase === 'running' || s.phase === 'starting') return out({...s, phase: 'stopping'}, [{type: 'log', line: `${e.reason}: stopping the child's process group`}, {type: 'terminate', reason: e.reason}])
      if (s.phase === 'stopping') return out(s)
      return out({...s, phase: 'stopped', nextStartAt: null}, [{type: 'log', line: `${e.reason}: no child running; supervisor stopped`}, {type: 'exit', code: 0}])

    case 'restart':
      if (s.phase === 'running') return out({...s, restartRequested: true}, [{type: 'log', line: `${e.reason}: graceful restart`}, {type: 'terminate', reason: e.reason}])
      if (s.phase === 'backoff' || s.phase === 'fatal') {
        const r = startNow({...s, alert: s.phase === 'fatal' ? null : s.alert})
        return out(r.state, [{type: 'log', line: `${e.reason}: starting now`}, ...r.actions])
      }
      return out(s)
  }
}
