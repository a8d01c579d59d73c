import {parseDockerInspect} from '../../core/manager-parse.js'
import {run} from '../exec.js'
import {execStep, type ManagerOptions, type ServiceManager} from './service-manager.js'

export function dockerManager(o: ManagerOptions): ServiceManager {
  return {
    kind: 'docker',
    label: `docker container ${o.container}`,
    async status() {
      const r = await run(['docker', 'inspect', o.container], {timeoutMs: o.cmdTimeoutMs})
      if (r.missing) return {available: false, reason: 'docker not found on PATH'}
      if (r.timedOut) return {available: false, reason: `docker inspect timed out after ${r.ms}ms`}
      if (r.code !== 0) {
        const msg = r.stderr.trim().split('\n')[0] || `exit ${r.code}`
        return {available: false, reason: /no such/i.test(msg) ? `no container named ${o.container}` : msg.slice(0, 160)}
      }
      return {available: true, view: parseDockerInspect(r.stdout)}
    },
    servicePids: (view) => (view?.mainPid ? o.procs.descendants([view.mainPid]) : null),
    async stop() {
      return execStep(await run(['docker', 'stop', '-t', String(Math.ceil(o.graceMs / 1000)), o.container], {timeoutMs: o.cmdTimeoutMs + o.graceMs}))
    },
    async start() {
      return execStep(await run(['docker', 'start', o.container], {timeoutMs: o.cmdTimeoutMs * 3}))
    },
  }
}
