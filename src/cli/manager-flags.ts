import {flagSet, type FlagValues} from './spec.js'
import type {ManagerKind, ServiceManager} from '../sys/managers.js'
import type {ProcessDeps} from '../deps.js'

/** How a command names the manager of its service (`health`, `watchdog`). */
export const MANAGER_FLAGS = flagSet({
  manager: {type: 'enum', options: ['auto', 'systemd', 'systemd-user', 'supervise', 'pm2', 'docker', 'command', 'none'], default: 'auto', description: 'What runs the service.'},
  unit: {type: 'string', default: 'clawdbot-gateway', description: 'systemd unit (systemd, systemd-user).'},
  'pm2-app': {type: 'string', description: 'pm2 app name (default: --unit).'},
  container: {type: 'string', description: 'Docker container (default: --name).'},
  'start-cmd': {type: 'string', description: 'command manager: starts the service and returns (split like ExecStart, no shell).'},
  'stop-cmd': {type: 'string', description: 'command manager: stops the service and returns.'},
  'restart-cmd': {type: 'string', description: 'command manager: restarts the service and returns (used when there is no --start-cmd).'},
  'status-cmd': {type: 'string', description: 'command manager: exits 0 when the service runs.'},
  'pid-file': {type: 'string', description: "command manager: the service's pid file (its process tree is the service). Trusted only when it is a regular file (not a symlink) owned by root or the service's user, in a directory nobody else can write (unless sticky), its mtime not in the future, the process it names started before it was written, and that process holds --port (or is its parent or grandparent) or runs --start-cmd."},
  'command-timeout': {type: 'duration', default: '10s', description: 'Timeout of each manager command (systemctl, journalctl, pm2, docker).'},
})

/** The manager flags' values; `manager` may be a kind a command adds (ollama's ssh). */
export type ManagerFlagValues = Omit<FlagValues<typeof MANAGER_FLAGS>, 'manager'> & {manager: ManagerKind}

export async function buildManager(
  f: ManagerFlagValues & {port?: number | undefined},
  o: {name: string; graceMs: number; deadlineAt: number | null; logFile?: string; port?: number | null; deps: ProcessDeps & {stateDir: string}},
): Promise<{manager: ServiceManager; tried: string[] | null}> {
  const [{unitName, commandLine}, managers, {terminate}] = await Promise.all([import('./validate.js'), import('../sys/managers.js'), import('../ops/terminate.js')])
  const unit = unitName(f.unit)
  const cmd = (k: 'start-cmd' | 'stop-cmd' | 'restart-cmd' | 'status-cmd') => commandLine(k, f[k])
  const {deps} = o
  const mo = {
    name: o.name, unit, container: f.container ?? o.name, pm2App: f['pm2-app'] ?? unit,
    startCmd: cmd('start-cmd'), stopCmd: cmd('stop-cmd'), restartCmd: cmd('restart-cmd'), statusCmd: cmd('status-cmd'), pidFile: f['pid-file'],
    stateDir: deps.stateDir, graceMs: o.graceMs, cmdTimeoutMs: f['command-timeout'], logFile: o.logFile,
    procs: deps.procs, gate: deps.gate, ports: deps.ports, port: o.port !== undefined ? o.port : typeof f.port === 'number' ? f.port : null,
    terminate: async (targets: {pid: number; startTime: string}[]) => {
      // A service is stopped whole or not at all: one process the gate refuses stops the step.
      const refused = targets.flatMap((t) => {
        const seen = deps.gate.inspect(t.pid, t.startTime)
        return seen?.refusal ? [`pid ${t.pid} (${seen.proc.comm}): ${seen.refusal.reason}`] : []
      })
      if (refused.length) return {ok: false, refused: true, detail: `not signalled: ${refused.join('; ')}`}
      const labelled = targets.map((t) => ({...t, label: `pid ${t.pid}`}))
      const r = await terminate(labelled, {graceMs: o.graceMs, killWaitMs: 3000, deadlineAt: o.deadlineAt, t0: deps.clock.now()}, deps)
      const left = r.plan.targets.filter((t) => t.phase === 'survived' || t.phase === 'denied')
      return {ok: left.length === 0, detail: left.length ? `still running: ${left.map((t) => `${t.target.label} (${t.reason})`).join(', ')}` : `terminated ${labelled.map((t) => t.label).join(', ') || 'nothing'}`}
    },
  }
  if (f.manager === 'auto') return managers.detectManager(mo)
  const manager = managers.makeManager(f.manager, mo)
  if (!manager) throw new Error(`--manager ${f.manager}: not a manager buildManager makes`)
  return {manager, tried: null}
}
