import {describe, expect, it} from 'vitest'
import {bootObserve, bootProbed, startBootWait} from '../../src/core/boot-wait.js'

const running = (childPid = 7) => ({state: 'running', alert: null, childPid})

describe("boot's wait as a step function of now", () => {
  it('ends on the deadline of --wait, or of --timeout when it comes first, saying what it last saw', () => {
    expect(startBootWait(1000, 30_000, null)).toMatchObject({deadline: 31_000, byTimeout: false, settleMs: 1000})
    expect(startBootWait(1000, 30_000, 5000)).toMatchObject({deadline: 5000, byTimeout: true})
    let w = startBootWait(0, 200, null)
    let s = bootObserve(w, {exitCode: undefined, supervisor: null}, 10)
    expect(s.next).toEqual({kind: 'sleep', ms: 50})
    s = bootObserve(s.state, {exitCode: undefined, supervisor: {state: 'backoff', alert: 'exit 1', childPid: 0}}, 180)
    expect(s.next).toEqual({kind: 'sleep', ms: 20}) // never past the deadline
    w = s.state
    expect(bootObserve(w, {exitCode: undefined, supervisor: null}, 200).next).toEqual({kind: 'timeout', last: 'supervisor backoff: exit 1'})
  })

  it('stops at once when the supervisor exits or its command cannot start', () => {
    const w = startBootWait(0, 1000, null)
    expect(bootObserve(w, {exitCode: 2, supervisor: running()}, 1).next).toEqual({kind: 'exited', code: 2})
    expect(bootObserve(w, {exitCode: null, supervisor: null}, 1).next).toEqual({kind: 'exited', code: null})
    expect(bootObserve(w, {exitCode: undefined, supervisor: {state: 'fatal', alert: 'ENOENT', childPid: 0}}, 1).next).toEqual({kind: 'fatal', alert: 'ENOENT'})
  })

  it('asks for a probe while the child runs; without one the same child must run for the settle time', () => {
    let s = bootObserve(startBootWait(0, 10_000, null), {exitCode: undefined, supervisor: running(7)}, 100)
    expect(s.next).toEqual({kind: 'probe', childPid: 7, settled: false, runningMs: 0})
    s = bootProbed(s.state, {ok: false, detail: 'child pid 7 running for 0ms'}, 100)
    expect(s.next.kind).toBe('sleep')
    s = bootObserve(s.state, {exitCode: undefined, supervisor: running(8)}, 1200) // restarted: settle again
    expect(s.next).toMatchObject({kind: 'probe', childPid: 8, settled: false})
    s = bootObserve(s.state, {exitCode: undefined, supervisor: running(8)}, 2200)
    expect(s.next).toEqual({kind: 'probe', childPid: 8, settled: true, runningMs: 1000})
    expect(bootProbed(s.state, {ok: true, detail: 'tcp ok'}, 2200).next).toEqual({kind: 'healthy', detail: 'tcp ok'})
  })

  it('a failed probe at the deadline is the timeout, with the probe named', () => {
    const s = bootObserve(startBootWait(0, 100, null), {exitCode: undefined, supervisor: running()}, 100)
    expect(bootProbed(s.state, {ok: false, detail: 'connection refused'}, 100).next).toEqual({kind: 'timeout', last: 'supervisor running; probe connection refused'})
  })
})
