import {readFileSync} from 'node:fs'
import {parseSuperviseState} from '../../core/supervise-state.js'
import {StateLayout} from '../state-layout.js'
import type {ManagerOptions, ServiceManager} from './service-manager.js'

/** The medic supervisor of `medic supervise`: read its state file, SIGHUP it for a graceful restart. */
export function superviseManager(o: ManagerOptions): ServiceManager {
  const read = () => {
    try {
      return parseSuperviseState(readFileSync(new StateLayout(o.stateDir).superviseState(o.name), 'utf8'))
    } catch {
      return null
    }
  }
  return {
    kind: 'supervise',
    label: `medic supervise --name ${o.name}`,
    freesPort: true,
    async status() {
      const s = read()
      if (!s) return {available: false, reason: `no medic supervisor state for ${o.name} in ${o.stateDir}`}
      if (o.procs.liveness(s.supervisor.pid, s.supervisor.startTime) !== 'alive') return {available: false, reason: `the supervisor of ${o.name} (pid ${s.supervisor.pid}) is not running`}
      const childAlive = s.child ? o.procs.liveness(s.child.pid, s.child.startTime) === 'alive' : false
      // A live supervisor whose child is between runs is restarting it: activating, not down.
      const state = s.state === 'running' && childAlive ? 'active' : s.state === 'fatal' ? 'failed' : s.state === 'stopped' || s.state === 'stopping' ? 'inactive' : 'activating'
      return {available: true, view: {state, raw: `${s.state}${s.alert ? ` (${s.alert})` : ''}`, mainPid: childAlive ? s.child!.pid : null, restarts: [{count: s.restarts.length, source: 'supervise restarts in its window'}]}}
    },
    servicePids: (view) => (view?.mainPid ? o.procs.descendants([view.mainPid]) : null),
    async stop() {
      return null // the supervisor restarts its child itself, freeing the port first
    },
    async start() {
      const s = read()
      if (!s) return {ok: false, detail: 'supervisor state vanished'}
      const r = o.gate.send(s.supervisor.pid, s.supervisor.startTime, 'SIGHUP')
      return {ok: r.result === 'sent', refused: r.result === 'refused', detail: `SIGHUP → supervisor pid ${s.supervisor.pid}: ${r.result}${r.reason ? ` (${r.reason})` : ''}`}
    },
  }
}
