import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {countJournalRestarts, parseDockerInspect, parsePm2Jlist, parseSystemctlShow, systemdView, type ManagerView} from '../core/manager-parse.js'
import {parseSuperviseState} from '../core/supervise-state.js'
import {describeExec, run, runDetached, type ExecResult} from './exec.js'
import type {ProcessTable} from './proc-table.js'
import {readPidFile} from './pid-file.js'
import type {SignalGate} from './signal-gate.js'
import {StateLayout} from './state-layout.js'

export const MANAGER_KINDS = ['auto', 'systemd', 'systemd-user', 'supervise', 'pm2', 'docker', 'command', 'none', 'ssh'] as const
export type ManagerKind = (typeof MANAGER_KINDS)[number]

export interface ManagerStatus {
  available: boolean
  reason?: string
  view?: ManagerView
}

export interface StepResult {
  ok: boolean
  detail: string
  /** Something done on the way that a reader of the actions should see (a daemon-reload). */
  note?: string
  /** The step refused to act (a protected process, a stale pid file): the repair must stop here. */
  refused?: boolean
}

/** What `medic health` needs of whatever runs the service. One implementation per kind. */
export interface ServiceManager {
  kind: Exclude<ManagerKind, 'auto'>
  label: string
  status(): Promise<ManagerStatus>
  /** Pids of the service's own processes (cgroup, or main pid and its descendants); null when unknown. */
  servicePids(view: ManagerView | undefined): number[] | null
  stop(): Promise<StepResult | null>
  start(): Promise<StepResult>
  /** It frees the port itself before every start (medic supervise): nobody else should. */
  freesPort?: boolean
}

export interface ManagerOptions {
  name: string
  unit: string
  container: string
  pm2App: string
  startCmd?: string[]
  stopCmd?: string[]
  restartCmd?: string[]
  statusCmd?: string[]
  pidFile?: string
  stateDir: string
  graceMs: number
  cmdTimeoutMs: number
  logFile?: string
  procs: ProcessTable
  gate: SignalGate
  /**
   * Terminates processes the way cleanup does (TERM → grace → KILL through the signal
   * gate); refuses them all, signalling none, when the gate would refuse any.
   */
  terminate: (targets: {pid: number; startTime: string}[]) => Promise<StepResult>
}

const step = (r: ExecResult): StepResult => ({ok: !r.missing && !r.timedOut && r.code === 0, detail: `${r.argv.join(' ')}: ${describeExec(r)}`})

function cgroupPids(cgroup: string): number[] | null {
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd']) {
    try {
      return readFileSync(join(base, cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
    } catch {}
  }
  return null
}

export function systemdManager(o: ManagerOptions, user: boolean): ServiceManager {
  const sc = (...a: string[]) => ['systemctl', ...(user ? ['--user'] : []), ...a]
  const label = `systemd${user ? ' --user' : ''} unit ${o.unit}`
  // A unit edited on disk but not reloaded stops and starts with its OLD settings (the
  // hardened KillMode= never applies): reload first, and say so.
  const reloadIfNeeded = async (): Promise<string | null> => {
    const r = await run(sc('show', o.unit, '--no-pager', '-p', 'NeedDaemonReload'), {timeoutMs: o.cmdTimeoutMs})
    if (!systemdView(parseSystemctlShow(r.stdout)).needsReload) return null
    const d = await run(sc('daemon-reload'), {timeoutMs: o.cmdTimeoutMs * 3})
    return `${d.argv.join(' ')} first, the unit changed on disk: ${describeExec(d)}`
  }
  const withReload = async (argv: string[], timeoutMs: number): Promise<StepResult> => {
    const note = await reloadIfNeeded()
    const r = step(await run(argv, {timeoutMs}))
    return note ? {...r, detail: `${note}; ${r.detail}`, note} : r
  }
  return {
    kind: user ? 'systemd-user' : 'systemd',
    label,
    async status() {
      const r = await run(sc('show', o.unit, '--no-pager', '-p', 'LoadState,ActiveState,SubState,MainPID,NRestarts,ControlGroup,Result,NeedDaemonReload'), {timeoutMs: o.cmdTimeoutMs})
      if (r.missing) return {available: false, reason: 'systemctl not found'}
      if (r.timedOut) return {available: false, reason: `systemctl timed out after ${r.ms}ms`}
      if (r.code !== 0) {
        // e.g. "System has not been booted with systemd", or, for --user from cron as root,
        // "Failed to connect to bus": the state is unknown, never "inactive".
        return {available: false, reason: (r.stderr.trim().split('\n')[0] || `systemctl exit ${r.code}`).slice(0, 160)}
      }
      const view = systemdView(parseSystemctlShow(r.stdout))
      if (view.state === 'not-found') return {available: false, reason: 'not found', view}
      const j = await run(['journalctl', ...(user ? ['--user'] : []), '-u', o.unit, '--since', '-1h', '-o', 'cat', '--no-pager', '-q'], {timeoutMs: o.cmdTimeoutMs})
      if (!j.missing && !j.timedOut && j.code === 0) view.restarts.unshift({count: countJournalRestarts(j.stdout), source: 'journal: restart jobs in the last hour'})
      return {available: true, view}
    },
    servicePids(view) {
      const main = view?.mainPid ? o.procs.descendants([view.mainPid]) : []
      if (view?.noProcesses) return main
      if (view?.cgroup) {
        const pids = cgroupPids(view.cgroup)
        if (pids) return pids
      }
      return view?.mainPid ? main : null
    },
    async stop() {
      return withReload(sc('stop', o.unit), o.cmdTimeoutMs + o.graceMs)
    },
    async start() {
      // A unit that looped hit its start limit; reset-failed lets it start again.
      await run(sc('reset-failed', o.unit), {timeoutMs: o.cmdTimeoutMs})
      return withReload(sc('start', o.unit), o.cmdTimeoutMs * 3)
    },
  }
}

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
      return step(await run(['pm2', 'stop', o.pm2App], {timeoutMs: o.cmdTimeoutMs + o.graceMs}))
    },
    async start() {
      return step(await run(['pm2', 'restart', o.pm2App], {timeoutMs: o.cmdTimeoutMs * 3}))
    },
  }
}

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
      return step(await run(['docker', 'stop', '-t', String(Math.ceil(o.graceMs / 1000)), o.container], {timeoutMs: o.cmdTimeoutMs + o.graceMs}))
    },
    async start() {
      return step(await run(['docker', 'start', o.container], {timeoutMs: o.cmdTimeoutMs * 3}))
    },
  }
}


/** Commands that return when done (`--start-cmd`, `--stop-cmd`, `--restart-cmd`), split like ExecStart, never a shell. */
export function commandManager(o: ManagerOptions): ServiceManager {
  const label = 'command manager'
  const view = () => (o.pidFile ? readPidFile(o.pidFile, o.procs) : null)
  const livePid = () => {
    const v = view()
    return v?.kind === 'live' ? {pid: v.pid, state: v.state} : null
  }
  return {
    kind: 'command',
    label,
    async status() {
      if (!o.startCmd && !o.restartCmd) return {available: false, reason: '--manager command needs --start-cmd or --restart-cmd'}
      if (o.statusCmd) {
        const r = await run(o.statusCmd, {timeoutMs: o.cmdTimeoutMs})
        const live = livePid()
        const state = r.code === 0 ? 'active' : 'inactive'
        return {available: true, view: {state, raw: `${state} (${o.statusCmd.join(' ')}: ${describeExec(r)})`, mainPid: live?.pid ?? null, restarts: []}}
      }
      if (o.pidFile) {
        const v = view()!
        // A pid file written before the process now holding its pid started names a reused pid: no state, no action.
        if (v.kind === 'stale') return {available: false, reason: v.detail}
        const state = v.kind === 'live' ? 'active' : 'inactive'
        return {available: true, view: {state, raw: v.kind === 'live' ? `${state} (${v.detail})` : `inactive (no live pid in ${o.pidFile}: ${v.detail})`, mainPid: v.kind === 'live' ? v.pid : null, restarts: []}}
      }
      return {available: true, view: {state: 'unknown', raw: 'no --pid-file or --status-cmd', mainPid: null, restarts: []}}
    },
    servicePids: (view) => (view?.mainPid ? o.procs.descendants([view.mainPid]) : null),
    async stop() {
      if (o.stopCmd) return step(await runDetached(o.stopCmd, {timeoutMs: o.cmdTimeoutMs + o.graceMs, logFile: o.logFile}))
      const v = view()
      if (v?.kind === 'stale') return {ok: false, refused: true, detail: v.detail}
      if (v?.kind !== 'live') return null
      const targets = o.procs.descendants([v.pid]).flatMap((pid) => {
        const st = pid === v.pid ? {startTime: v.startTime} : o.procs.stat(pid)
        return st ? [{pid, startTime: st.startTime}] : []
      })
      return o.terminate(targets)
    },
    async start() {
      const argv = o.startCmd ?? o.restartCmd!
      return step(await runDetached(argv, {timeoutMs: o.cmdTimeoutMs * 3, logFile: o.logFile}))
    },
  }
}

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

export function noManager(reason: string): ServiceManager {
  return {
    kind: 'none',
    label: 'none',
    status: async () => ({available: false, reason}),
    servicePids: () => null,
    stop: async () => null,
    start: async () => ({ok: false, detail: reason}),
  }
}

/**
 * `--manager auto`: the first that knows the service, in this order, and what was tried
 * when none does. pm2 is asked only when its daemon already runs (`pm2 jlist` would start one).
 */
export async function detectManager(o: ManagerOptions): Promise<{manager: ServiceManager; tried: string[]}> {
  const tried: string[] = []
  if (o.startCmd || o.restartCmd) return {manager: commandManager(o), tried: ['command (--start-cmd/--restart-cmd given)']}
  const sup = superviseManager(o)
  const ss = await sup.status()
  if (ss.available) return {manager: sup, tried}
  tried.push(`supervise: ${ss.reason}`)
  if (existsSync('/run/systemd/system')) {
    const m = systemdManager(o, false)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`systemd: ${st.reason}`)
  } else tried.push('systemd: not the init system here')
  const uid = process.getuid?.() ?? 0
  const runtime = process.env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`
  if (existsSync(join(runtime, 'bus')) || existsSync(join(runtime, 'systemd'))) {
    const m = systemdManager(o, true)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`systemd-user: ${st.reason}`)
  } else tried.push('systemd-user: no user bus')
  const pm2Home = process.env.PM2_HOME ?? join(process.env.HOME ?? '/root', '.pm2')
  if (readPidFile(join(pm2Home, 'pm2.pid'), o.procs).kind === 'live') {
    const m = pm2Manager(o)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`pm2: ${st.reason}`)
  } else tried.push('pm2: no pm2 daemon')
  if (existsSync('/var/run/docker.sock') || process.env.DOCKER_HOST) {
    const m = dockerManager(o)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`docker: ${st.reason}`)
  } else tried.push('docker: no docker daemon socket')
  return {manager: noManager(`no manager found (${tried.join('; ')})`), tried}
}

export function makeManager(kind: ManagerKind, o: ManagerOptions): ServiceManager | null {
  switch (kind) {
    case 'systemd': return systemdManager(o, false)
    case 'systemd-user': return systemdManager(o, true)
    case 'pm2': return pm2Manager(o)
    case 'docker': return dockerManager(o)
    case 'command': return commandManager(o)
    case 'supervise': return superviseManager(o)
    case 'none': return noManager('no manager (--manager none): check only')
    default: return null
  }
}
