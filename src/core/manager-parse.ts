/**
 * Parsers of what service managers print. Pure: each takes the text a command wrote.
 * Every manager's state is normalised to one vocabulary the health policy reads.
 */

export type ServiceState = 'active' | 'activating' | 'deactivating' | 'inactive' | 'failed' | 'not-found' | 'unknown'

export interface ManagerView {
  state: ServiceState
  /** The manager's own words, e.g. `activating (auto-restart)`, `errored`, `restarting`. */
  raw: string
  mainPid: number | null
  /** Restarts the manager counts, since when it says. */
  restarts: {count: number; source: string}[]
  /** systemd's control group path, when known ('' = systemd says the unit has no cgroup now). */
  cgroup?: string
  /**
   * The manager says the service has no processes of its own right now (systemd: an empty
   * ControlGroup=, or a unit between runs — `activating (auto-restart)`, inactive, failed —
   * whose cgroup can only hold left-overs). Whatever holds its port then is not the service.
   */
  noProcesses?: boolean
  /** The unit's files changed on disk since systemd loaded them (NeedDaemonReload=yes). */
  needsReload?: boolean
}

/**
 * Why a manager cannot be used, naming it once ("systemd --user unit x: Failed to connect
 * to bus"): managers' reasons never carry their own label.
 */
export function unavailableText(m: {kind: string; label: string}, reason: string | undefined): string {
  return m.kind === 'none' ? (reason ?? 'no manager') : `${m.label}: ${reason ?? 'unavailable'}`
}

/** `systemctl show UNIT [-p …]`: KEY=VALUE lines; the first unit's block when several. */
export function parseSystemctlShow(text: string): Record<string, string> {
  const props: Record<string, string> = {}
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(props).length > 0) break
      continue
    }
    const eq = line.indexOf('=')
    if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return props
}

export function systemdView(props: Record<string, string>): ManagerView {
  const active = props.ActiveState ?? ''
  const sub = props.SubState ?? ''
  const state: ServiceState =
    props.LoadState === 'not-found' ? 'not-found'
      : (['active', 'activating', 'deactivating', 'inactive', 'failed'] as const).find((s) => s === active)
        ?? (active === 'reloading' ? 'active' : 'unknown')
  const pid = Number(props.MainPID ?? '0')
  const restarts = props.NRestarts !== undefined && /^\d+$/.test(props.NRestarts) ? [{count: Number(props.NRestarts), source: 'systemd NRestarts (since the unit was last started by hand)'}] : []
  // While a unit restart-loops systemd reports MainPID=0 and an empty ControlGroup=: an
  // empty cgroup means "no processes", not "unknown" (seed 000 under a real systemd).
  const noProcesses = props.LoadState === 'loaded' && (props.ControlGroup === '' || sub === 'auto-restart' || state === 'inactive' || state === 'failed')
  return {
    state, raw: sub ? `${active} (${sub})` : active || 'unknown', mainPid: pid > 0 ? pid : null, restarts,
    ...(props.ControlGroup !== undefined ? {cgroup: props.ControlGroup} : {}),
    ...(noProcesses ? {noProcesses} : {}),
    ...(props.NeedDaemonReload === 'yes' ? {needsReload: true} : {}),
  }
}

/**
 * journalctl -u UNIT --since "1 hour ago" -o cat: systemd logs
 * `<unit>: Scheduled restart job, restart counter is at N.` once per automatic restart.
 * (gateway_health.sh counted these lines with `grep -c … || echo 0`, which printed "0\n0".)
 */
export function countJournalRestarts(text: string): number {
  let n = 0
  for (const line of text.split('\n')) if (/Scheduled restart job, restart counter is at \d+/.test(line)) n++
  return n
}

interface Pm2Entry {
  name?: string
  pid?: number
  pm_id?: number
  pm2_env?: {status?: string; restart_time?: number; unstable_restarts?: number; pm_uptime?: number}
}

/** `pm2 jlist`: a JSON array of apps. pm2 may print warnings before it, so the array is found first. */
export function parsePm2Jlist(text: string, name: string): ManagerView {
  // `[PM2] Spawning PM2 daemon…` lines also start with `[`: find the array itself.
  const m = /^\[\s*(?:\{|\])/m.exec(text)
  let list: Pm2Entry[]
  try {
    list = JSON.parse(m ? text.slice(m.index) : text) as Pm2Entry[]
  } catch {
    return {state: 'unknown', raw: 'pm2 jlist did not print JSON', mainPid: null, restarts: []}
  }
  const apps = list.filter((a) => a.name === name)
  if (apps.length === 0) return {state: 'not-found', raw: 'not found', mainPid: null, restarts: []}
  const a = apps[0]
  const status = a.pm2_env?.status ?? 'unknown'
  const state: ServiceState = ({online: 'active', launching: 'activating', 'waiting restart': 'activating', stopping: 'deactivating', stopped: 'inactive', errored: 'failed', 'one-launch-status': 'active'} as Record<string, ServiceState>)[status] ?? 'unknown'
  const restarts = apps.reduce((n, x) => n + (x.pm2_env?.restart_time ?? 0), 0)
  return {state, raw: status, mainPid: a.pid && a.pid > 0 ? a.pid : null, restarts: [{count: restarts, source: 'pm2 restart_time (since pm2 started the app)'}]}
}

interface DockerInspect {
  State?: {Status?: string; Running?: boolean; Restarting?: boolean; Pid?: number; ExitCode?: number; Health?: {Status?: string}}
  RestartCount?: number
}

/** `docker inspect NAME`: a JSON array with one object. */
export function parseDockerInspect(text: string): ManagerView {
  let list: DockerInspect[]
  try {
    list = JSON.parse(text) as DockerInspect[]
  } catch {
    return {state: 'unknown', raw: 'docker inspect did not print JSON', mainPid: null, restarts: []}
  }
  if (!Array.isArray(list) || list.length === 0) return {state: 'not-found', raw: 'no such container', mainPid: null, restarts: []}
  const s = list[0].State ?? {}
  const status = s.Status ?? 'unknown'
  const state: ServiceState = ({running: 'active', restarting: 'activating', created: 'inactive', exited: s.ExitCode ? 'failed' : 'inactive', paused: 'failed', dead: 'failed', removing: 'deactivating'} as Record<string, ServiceState>)[status] ?? 'unknown'
  const health = s.Health?.Status ? `, health ${s.Health.Status}` : ''
  return {state, raw: `${status}${health}`, mainPid: s.Pid && s.Pid > 0 ? s.Pid : null, restarts: [{count: list[0].RestartCount ?? 0, source: 'docker RestartCount (since the container was created)'}]}
}
