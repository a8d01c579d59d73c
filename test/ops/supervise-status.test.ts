import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {superviseStatus} from '../../src/ops/supervise-status.js'
import type {ProcessTable} from '../../src/sys/proc-table.js'
import {StateLayout} from '../../src/sys/state-layout.js'
import {fakeClock, WALL0} from '../helpers/fake-clock.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

/** A state dir holding one supervisor's state file, and a process table in which only `live` identities run. */
function world(file: object | null, live: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'medic-ops-supst-'))
  dirs.push(dir)
  const layout = new StateLayout(dir)
  if (file) {
    mkdirSync(dirname(layout.superviseState('gw')), {recursive: true})
    writeFileSync(layout.superviseState('gw'), JSON.stringify(file))
  }
  const procs = {liveness: (pid: number, st: string) => (live.includes(`${pid}:${st}`) ? 'alive' : 'gone')} as unknown as ProcessTable
  return {layout, procs, clock: fakeClock().clock}
}

const state = (over: object = {}) => ({
  version: 1, name: 'gw', supervisor: {pid: 10, startTime: '5', cmdline: []}, child: {pid: 11, startTime: '6'}, state: 'running', stable: true,
  command: ['svc'], port: 1, starts: 3, restarts: [WALL0 - 7_200_000, WALL0 - 60_000, WALL0 - 1000], budget: {max: 10, windowMs: 3_600_000, exhausted: false},
  alert: null, updatedAt: '', ...over,
})

describe('supervise status (fake process table, fake wall clock)', () => {
  it('OK: the supervisor and its child run; restarts counted in the window by the clock it is given', () => {
    const v = superviseStatus('gw', 'SUPERVISOR', world(state(), ['10:5', '11:6']))
    expect(v).toMatchObject({status: 'OK', summary: 'gw supervised by pid 10; child pid 11 running; 2 restarts in the last 1h'})
  })

  it('UNKNOWN when the supervisor in the file is gone or its pid was reused (another start time)', () => {
    expect(superviseStatus('gw', 'SUPERVISOR', world(state(), ['10:999', '11:6'])).status).toBe('UNKNOWN')
    expect(superviseStatus('gw', 'SUPERVISOR', world(null, [])).summary).toMatch(/^no supervisor runs for gw \(no state in /)
  })

  it('ALERT when the child is down or the budget is spent', () => {
    expect(superviseStatus('gw', 'SUPERVISOR', world(state(), ['10:5'])).summary).toBe('gw: child not running (supervisor running); supervisor pid 10')
    const spent = superviseStatus('gw', 'SUPERVISOR', world(state({alert: 'restart budget spent', budget: {max: 2, windowMs: 3_600_000, exhausted: true}}), ['10:5', '11:6']))
    expect(spent).toMatchObject({status: 'ALERT', summary: 'gw: restart budget spent; supervisor pid 10'})
  })
})
