import {describe, expect, it} from 'vitest'
import {abandonKill, markTarget, planKill, stepKill, type KillPlan} from '../../src/core/kill-plan.js'

const T = (pid: number) => ({pid, startTime: `st${pid}`, label: `pid ${pid}`})

describe('kill plan (pure step function of now)', () => {
  it('sends TERM then CONT at once, and nothing more while the grace runs', () => {
    let plan = planKill([T(10)], 0, 1000, 500)
    const s0 = stepKill(plan, () => true, 0)
    expect(s0.signals.map((s) => s.signal)).toEqual(['SIGTERM', 'SIGCONT'])
    expect(s0.wakeAt).toBe(1000)
    plan = s0.plan
    const s1 = stepKill(plan, () => true, 999)
    expect(s1.signals).toEqual([])
    expect(s1.plan.targets[0].phase).toBe('terminating')
  })

  it('records a polite exit during the grace', () => {
    const s0 = stepKill(planKill([T(10)], 0, 1000, 500), () => true, 0)
    const s1 = stepKill(s0.plan, () => false, 40)
    expect(s1.done).toBe(true)
    expect(s1.plan.targets[0]).toMatchObject({phase: 'gone', endAt: 40, reason: 'exited after SIGTERM'})
  })

  it('escalates to KILL exactly at the end of the grace, then gives up after killWait', () => {
    let plan: KillPlan = stepKill(planKill([T(10)], 0, 1000, 500), () => true, 0).plan
    const atGrace = stepKill(plan, () => true, 1000)
    expect(atGrace.signals.map((s) => s.signal)).toEqual(['SIGKILL'])
    expect(atGrace.wakeAt).toBe(1500)
    plan = atGrace.plan
    expect(stepKill(plan, () => true, 1499).done).toBe(false)
    const end = stepKill(plan, () => true, 1500)
    expect(end.done).toBe(true)
    expect(end.plan.targets[0]).toMatchObject({phase: 'survived', reason: 'still alive after SIGKILL'})
  })

  it('handles several targets independently and never signals a gone one', () => {
    const s0 = stepKill(planKill([T(1), T(2)], 0, 100, 100), (pid) => pid === 1, 0)
    expect(s0.signals.map((s) => `${s.signal}:${s.target.pid}`)).toEqual(['SIGTERM:1', 'SIGCONT:1'])
    expect(s0.plan.targets[1]).toMatchObject({phase: 'gone', reason: 'already gone'})
    const s1 = stepKill(s0.plan, () => true, 100)
    expect(s1.signals.map((s) => `${s.signal}:${s.target.pid}`)).toEqual(['SIGKILL:1'])
  })

  it('finalises denied targets and abandons the rest at the deadline', () => {
    let plan = stepKill(planKill([T(1), T(2)], 0, 100, 100), () => true, 0).plan
    plan = markTarget(plan, 1, 'denied', 'EPERM', 5)
    expect(plan.targets[0]).toMatchObject({phase: 'denied', reason: 'EPERM'})
    plan = abandonKill(plan, 50, 'timeout')
    expect(plan.targets.map((t) => t.phase)).toEqual(['denied', 'survived'])
    expect(stepKill(plan, () => true, 60).done).toBe(true)
  })
})
