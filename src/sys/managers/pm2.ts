import {parsePm2Jlist} from '../../core/manager-parse.js'
import {describeExec, run} from '../exec.js'
import {execStep, type ManagerOptions, type ServiceManager} from './service-manager.js'

export function pm2Manager(o: ManagerOptions): ServiceManager {
  return {
    kind: 'pm2',
    label: `pm2 app ${o.pm2App}`,
    async status() {
      const r = await run(['pm2', 'jlist'], {timeoutMs: o.cmdTimeoutMs})
      if (r.missing) return {available: false, reason: 'pm2 not found on PATH'}
      if (r.code !== 0 || r.timedOut) return {available: false, reason: `pm2 jlist: ${describeExec(r)}`}
      const view = parsePm2Jlist(r.stdout, o.pm2App)
      if (view.state === 'not-found') return {available: false, reason: `pm2 has no app named ${o.pm2App}`, view}
      return {available: true, view}
    },
    servicePids: (view) => (view?.mainPid ? o.procs.descendants([view.mainPid]) : null),
    async stop() {
      return execStep(await run(['pm2', 'stop', o.pm2App], {timeoutMs: o.cmdTimeoutMs + o.graceMs}))
    },
    async start() {
      return execStep(await run(['pm2', 'restart', o.pm2App], {timeoutMs: o.cmdTimeoutMs * 3}))
    },
  }
}
