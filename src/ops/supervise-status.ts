import {formatMs} from '../core/duration.js'
import {parseSuperviseState, type SuperviseStateFile} from '../core/supervise-state.js'
import type {Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import type {ProcessTable} from '../sys/proc-table.js'
import type {StateLayout} from '../sys/state-layout.js'
import {readText} from '../sys/state-store.js'

export function readSupervisor(layout: StateLayout, name: string, procs: ProcessTable): {file: SuperviseStateFile | null; alive: boolean} {
  const text = readText(layout.superviseState(name))
  const file: SuperviseStateFile | null = text === null ? null : parseSuperviseState(text)
  const alive = !!file && procs.liveness(file.supervisor.pid, file.supervisor.startTime) === 'alive'
  return {file, alive}
}

export function superviseStatus(name: string, subject: string, deps: {layout: StateLayout; procs: ProcessTable; clock: Pick<Clock, 'wall'>}): Verdict {
  const {file, alive} = readSupervisor(deps.layout, name, deps.procs)
  const base = {subject, checks: [], actions: []}
  if (!file || !alive) {
    return {...base, status: 'UNKNOWN', summary: file ? `no supervisor runs for ${name} (pid ${file.supervisor.pid} in its state file is gone)` : `no supervisor runs for ${name} (no state in ${deps.layout.dir})`}
  }
  const childAlive = !!file.child && deps.procs.liveness(file.child.pid, file.child.startTime) === 'alive'
  const hour = file.restarts.filter((t) => t > deps.clock.wall().getTime() - file.budget.windowMs).length
  const extra = {supervisor: file.supervisor, child: file.child, state: file.state, restarts: hour, budget: file.budget, alert: file.alert, command: file.command}
  const checks = [
    {name: 'supervisor', status: 'OK' as const, detail: `pid ${file.supervisor.pid} (${file.state})`},
    {name: 'child', status: childAlive ? ('OK' as const) : ('ALERT' as const), detail: childAlive ? `pid ${file.child!.pid} running` : 'not running'},
    {name: 'restart budget', status: file.budget.exhausted ? ('ALERT' as const) : ('OK' as const), detail: `${hour}/${file.budget.max} restarts in the last ${formatMs(file.budget.windowMs)}`},
  ]
  if (file.alert || !childAlive || file.state !== 'running') {
    return {...base, checks, extra, status: 'ALERT', summary: `${name}: ${file.alert ?? `child not running (supervisor ${file.state})`}; supervisor pid ${file.supervisor.pid}`}
  }
  return {...base, checks, extra, status: 'OK', summary: `${name} supervised by pid ${file.supervisor.pid}; child pid ${file.child!.pid} running; ${hour} restarts in the last ${formatMs(file.budget.windowMs)}`}
}
