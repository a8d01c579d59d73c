import {describe, expect, it} from 'vitest'
import type {ProcessDeps} from '../../src/deps.js'
import {terminate} from '../../src/ops/terminate.js'
import {LogFile} from '../../src/sys/log-file.js'
import type {ProcessTable} from '../../src/sys/proc-table.js'

/** A fake world: a clock that only moves when slept on, and processes that die on cue. */
function world(behaviour: 'polite' | 'ignores-term' | 'unkillable' | 'denied') {
  let now = 0
  let dead = false
  const sent: string[] = []
  const procs = {
    liveness: () => (dead ? 'gone' : 'alive'),
    stat: () => null,
    ancestors: () => [],
  } as unknown as ProcessTable
  const deps: ProcessDeps = {
    clock: {now: () => now, wall: () => new Date(0), sleep: async (ms) => void (now += ms)},
    procs,
    ports: {} as ProcessDeps['ports'],
    gate: {
      send: (_pid: number, _st: string, sig: NodeJS.Signals) => {
        sent.push(`${sig}@${now}`)
        if (behaviour === 'denied') return {result: 'denied' as const}
        if (sig === 'SIGTERM' && behaviour === 'polite') dead = true
        if (sig === 'SIGKILL' && behaviour !== 'unkillable') dead = true
        return {result: 'sent' as const}
      },
      inspect: () => null,
      resume: () => ({result: 'sent' as const}),
      adjust: () => ({result: 'sent' as const}),
      scope: () => { throw new Error('not used') },
    },
    locks: {acquire: async () => ({acquired: true, release: () => {}})},
    log: new LogFile(undefined),
    progress: () => {},
    selfPid: 99,
    uid: 0,
  }
  return {deps, sent, at: () => now}
}

const target = [{pid: 10, startTime: 's', label: 'pid 10 (x)'}]

describe('terminate (ops loop over the kill plan, fake clock)', () => {
  it('a polite holder: TERM, CONT, gone on the next poll', async () => {
    const w = world('polite')
    const r = await terminate(target, {graceMs: 5000, killWaitMs: 3000, deadlineAt: null, t0: 0}, w.deps)
    expect(w.sent).toEqual(['SIGTERM@0', 'SIGCONT@0'])
    expect(r.plan.targets[0]).toMatchObject({phase: 'gone', reason: 'exited after SIGTERM'})
    expect(w.at()).toBeLessThanOrEqual(5)
  })

  it('a TERM-ignoring holder: KILL exactly at the grace', async () => {
    const w = world('ignores-term')
    const r = await terminate(target, {graceMs: 1000, killWaitMs: 3000, deadlineAt: null, t0: 0}, w.deps)
    expect(w.sent).toEqual(['SIGTERM@0', 'SIGCONT@0', 'SIGKILL@1000'])
    expect(r.plan.targets[0].reason).toBe('exited after SIGKILL')
    expect(r.actions.map((a) => `${a.action}:${a.ms}`)).toEqual(['SIGTERM:0', 'SIGKILL:1000', 'exit:1002'])
  })

  it('an unkillable holder survives after killWait', async () => {
    const w = world('unkillable')
    const r = await terminate(target, {graceMs: 100, killWaitMs: 200, deadlineAt: null, t0: 0}, w.deps)
    expect(r.plan.targets[0]).toMatchObject({phase: 'survived', endAt: 300})
  })

  it('stops at the deadline', async () => {
    const w = world('ignores-term')
    const r = await terminate(target, {graceMs: 10_000, killWaitMs: 3000, deadlineAt: 250, t0: 0}, w.deps)
    expect(w.sent).not.toContain('SIGKILL@10000')
    expect(r.plan.targets[0]).toMatchObject({phase: 'survived', reason: 'still alive when --timeout expired'})
    expect(w.at()).toBe(250)
  })

  it('a denied signal ends the target at once', async () => {
    const w = world('denied')
    const r = await terminate(target, {graceMs: 1000, killWaitMs: 3000, deadlineAt: null, t0: 0}, w.deps)
    expect(r.plan.targets[0]).toMatchObject({phase: 'denied', reason: 'permission denied (EPERM)'})
    expect(w.at()).toBe(0)
  })
})
