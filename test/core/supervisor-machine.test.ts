import {describe, expect, it} from 'vitest'
import {initialState, RESTART_HISTORY, transition, type SupervisorConfig, type SupervisorEvent, type SupervisorState} from '../../src/core/supervisor-machine.js'

const cfg: SupervisorConfig = {minUptimeMs: 60_000, backoffBaseMs: 1000, backoffCapMs: 30_000, maxRestarts: 10, restartWindowMs: 3_600_000, probeFailures: 3}

/** Drives the machine with explicit times; returns every action with its time. */
function drive(events: [number, SupervisorEvent][], c = cfg, s0: SupervisorState = initialState(c)) {
  let s = s0
  const log: string[] = []
  let wakeAt: number | null = null
  for (const [now, e] of events) {
    const t = transition(s, e, now, c)
    s = t.state
    wakeAt = t.wakeAt
    for (const a of t.actions) if (a.type !== 'log') log.push(`${now}:${a.type}${'line' in a ? `:${a.line}` : ''}`)
  }
  return {s, log, wakeAt}
}

describe('supervisor state machine', () => {
  it('starts by freeing the port, then spawning', () => {
    const r = drive([[0, {type: 'start'}], [5, {type: 'spawned'}]])
    expect(r.log).toEqual(['0:free-port', '0:spawn'])
    expect(r.s.phase).toBe('running')
    expect(r.wakeAt).toBe(60_005) // when the run becomes stable
  })

  it('restarts at once after a stable run, then backs off 1s, 2s, 4s … up to the cap', () => {
    const r = drive([
      [0, {type: 'start'}], [0, {type: 'spawned'}], [60_000, {type: 'tick'}],
      [100_000, {type: 'exited', code: null, signal: 'SIGKILL'}],
    ])
    expect(r.log.slice(-3)).toEqual(['100000:reap', '100000:free-port', '100000:spawn'])
    let s = drive([[100_001, {type: 'spawned'}], [100_500, {type: 'exited', code: 1, signal: null}]], cfg, r.s).s
    expect(s).toMatchObject({phase: 'backoff', nextStartAt: 101_500})
    const delays: number[] = []
    let t = 101_500
    for (let i = 0; i < 8; i++) {
      const x = drive([[t, {type: 'tick'}], [t, {type: 'spawned'}], [t + 10, {type: 'exited', code: 1, signal: null}]], {...cfg, maxRestarts: 100}, s)
      s = x.s
      delays.push(s.nextStartAt! - (t + 10))
      t = s.nextStartAt!
    }
    expect(delays).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000])
  })

  it('does not start before the backoff ends', () => {
    const r = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [10, {type: 'exited', code: 1, signal: null}], [500, {type: 'tick'}]])
    expect(r.s.phase).toBe('backoff')
    expect(r.log).toEqual(['0:free-port', '0:spawn', '10:reap'])
    expect(r.wakeAt).toBe(1010)
  })

  it('never retries exit code 78, and alerts once', () => {
    const r = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [10, {type: 'exited', code: 78, signal: null}], [5000, {type: 'tick'}]])
    expect(r.s.phase).toBe('fatal')
    expect(r.log.filter((l) => l.includes('alert'))).toHaveLength(1)
    expect(r.log.filter((l) => l.includes('spawn'))).toHaveLength(1)
    expect(r.wakeAt).toBeNull()
  })

  it('holds the restart budget exactly: max restarts at normal pace, then one alert and the slow cap', () => {
    const c = {...cfg, maxRestarts: 3, minUptimeMs: 1000}
    let s = drive([[0, {type: 'start'}], [0, {type: 'spawned'}]], c).s
    let t = 0
    const alerts: string[] = []
    const gaps: number[] = []
    for (let i = 0; i < 6; i++) {
      const x = drive([[t + 5, {type: 'exited', code: 1, signal: null}]], c, s)
      alerts.push(...x.log.filter((l) => l.includes(':alert:')))
      gaps.push(x.s.nextStartAt! - (t + 5))
      t = x.s.nextStartAt!
      s = drive([[t, {type: 'tick'}], [t, {type: 'spawned'}]], c, x.s).s
    }
    expect(gaps).toEqual([1000, 2000, 4000, 30_000, 30_000, 30_000])
    expect(alerts).toHaveLength(1)
    expect(alerts[0]).toMatch(/restart budget spent: 3 restarts in the last 3600s \(max 3\)/)
    // Stable again → the alert clears, once.
    const cleared = drive([[t + 1000, {type: 'tick'}]], c, s)
    expect(cleared.log).toEqual([`${t + 1000}:clear-alert:stable again after 6 restarts in the last 3600s`])
    expect(cleared.s.alert).toBeNull()
  })

  it('forgets restarts that left the window', () => {
    const c = {...cfg, maxRestarts: 1, restartWindowMs: 10_000, minUptimeMs: 100_000}
    const s = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [5, {type: 'exited', code: 1, signal: null}]], c).s
    const later = drive([[20_000, {type: 'tick'}], [20_000, {type: 'spawned'}], [20_010, {type: 'exited', code: 1, signal: null}]], c, s)
    expect(later.log.some((l) => l.includes('alert'))).toBe(false)
  })

  it('keeps a bounded restart history: the latest RESTART_HISTORY, or the budget when larger, and the same budget decisions', () => {
    const run = (c: SupervisorConfig, n: number) => {
      let s = drive([[0, {type: 'start'}], [0, {type: 'spawned'}]], c).s
      let alerts = 0
      for (let i = 1; i <= n; i++) {
        const x = drive([[i * 10, {type: 'exited', code: null, signal: 'SIGKILL'}], [i * 10, {type: 'tick'}], [i * 10, {type: 'spawned'}]], c, s)
        alerts += x.log.filter((l) => l.includes(':alert:')).length
        s = x.s
      }
      return {s, alerts}
    }
    const stable = {...cfg, minUptimeMs: 0, backoffCapMs: 0}
    const small = run({...stable, maxRestarts: 10}, RESTART_HISTORY + 500)
    expect(small.s.restarts).toHaveLength(RESTART_HISTORY)
    expect(small.s.restarts.at(-1)).toBe((RESTART_HISTORY + 500) * 10)
    expect(small.alerts).toBe(1)
    // A budget larger than the history: kept whole, so the alert comes exactly past it.
    const big = run({...stable, maxRestarts: RESTART_HISTORY + 200}, RESTART_HISTORY + 500)
    expect(big.s.restarts).toHaveLength(RESTART_HISTORY + 200)
    expect(big.alerts).toBe(1)
    expect(run({...stable, maxRestarts: RESTART_HISTORY + 200}, RESTART_HISTORY + 200).alerts).toBe(0)
  })

  it('restarts a child that fails N probes in a row; a pass resets the count', () => {
    const r = drive([
      [0, {type: 'start'}], [0, {type: 'spawned'}],
      [30, {type: 'probe', ok: false, detail: 'refused'}], [60, {type: 'probe', ok: false, detail: 'refused'}],
      [90, {type: 'probe', ok: true, detail: 'ok'}],
      [120, {type: 'probe', ok: false, detail: 'x'}], [150, {type: 'probe', ok: false, detail: 'x'}], [180, {type: 'probe', ok: false, detail: 'x'}],
    ])
    expect(r.log).toEqual(['0:free-port', '0:spawn', '180:terminate'])
  })

  it('stops: terminates the group, then exits 0 when the child is gone', () => {
    const r = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [50, {type: 'stop', reason: 'SIGTERM'}], [70, {type: 'exited', code: null, signal: 'SIGTERM'}]])
    expect(r.log).toEqual(['0:free-port', '0:spawn', '50:terminate', '70:reap', '70:exit'])
    expect(r.s.phase).toBe('stopped')
  })

  it('stops at once when no child runs', () => {
    const r = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [10, {type: 'exited', code: 1, signal: null}], [20, {type: 'stop', reason: 'SIGINT'}]])
    expect(r.log.at(-1)).toBe('20:exit')
  })

  it('restarts gracefully on request without counting it as a failure', () => {
    const r = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [10, {type: 'restart', reason: 'SIGHUP'}], [30, {type: 'exited', code: 0, signal: null}]])
    expect(r.log).toEqual(['0:free-port', '0:spawn', '10:terminate', '30:reap', '30:free-port', '30:spawn'])
    expect(r.s.restarts).toEqual([])
  })

  it('a restart request ends a backoff or a fatal stop', () => {
    const fatal = drive([[0, {type: 'start'}], [0, {type: 'spawned'}], [1, {type: 'exited', code: 78, signal: null}], [2, {type: 'restart', reason: 'flag'}]])
    expect(fatal.log.slice(-2)).toEqual(['2:free-port', '2:spawn'])
    expect(fatal.s.alert).toBeNull()
  })

  it('ends ALERT (exit 2) when the command cannot start at all', () => {
    const r = drive([[0, {type: 'start'}], [1, {type: 'spawn-failed', error: 'ENOENT', permanent: true}]])
    expect(r.s.phase).toBe('fatal')
    expect(r.log.at(-1)).toBe('1:exit:could not start: ENOENT: the command cannot start')
  })

  it('reaps what the child left behind after every exit, before anything else', () => {
    const r = drive([
      [0, {type: 'start'}], [0, {type: 'spawned'}], [10, {type: 'exited', code: 1, signal: null}],
      [1010, {type: 'tick'}], [1010, {type: 'spawned'}], [1020, {type: 'exited', code: 78, signal: null}],
    ])
    expect(r.log.filter((l) => !l.includes('alert'))).toEqual(['0:free-port', '0:spawn', '10:reap', '1010:free-port', '1010:spawn', '1020:reap'])
  })
})
