import {describeExec, run, runDetached} from '../exec.js'
import {pidFileVouched} from '../../core/protect.js'
import {readPidFile, type PidFileView} from '../pid-file.js'
import {execStep, type ManagerOptions, type ServiceManager} from './service-manager.js'

/** Commands that return when done (`--start-cmd`, `--stop-cmd`, `--restart-cmd`), split like ExecStart, never a shell. */
export function commandManager(o: ManagerOptions): ServiceManager {
  const label = 'command manager'
  // The pid file is judged once per look (status()); stop() acts on the identity decided
  // then and never re-reads the file (a file swapped between the look and the act is not obeyed).
  let looked: PidFileView | null = null
  const look = async (): Promise<PidFileView | null> => {
    if (!o.pidFile) return null
    const v = readPidFile(o.pidFile, o.procs)
    if (v.kind !== 'live') return (looked = v)
    const holders = o.port != null && o.ports ? (await o.ports.listeners(o.port)).pids : []
    const p = o.procs.get(v.pid)
    if (!p || p.startTime !== v.startTime) return (looked = {kind: 'dead', pid: v.pid, detail: `pid ${v.pid} from ${o.pidFile} ended while it was checked`})
    const vouch = pidFileVouched({pid: v.pid, holderChains: holders.map((h) => [h, ...o.procs.ancestors(h).map((a) => a.pid)]), cmdline: p.cmdline, comm: p.comm, startCmd: o.startCmd ?? null, port: o.port ?? null})
    return (looked = vouch.ok ? {...v, detail: `${v.detail} (${vouch.how})`} : {kind: 'untrusted', pid: v.pid, detail: `${o.pidFile} not trusted: ${vouch.why}; not signalled`})
  }
  return {
    kind: 'command',
    label,
    async status() {
      if (!o.startCmd && !o.restartCmd) return {available: false, reason: '--manager command needs --start-cmd or --restart-cmd'}
      if (o.statusCmd) {
        const r = await run(o.statusCmd, {timeoutMs: o.cmdTimeoutMs})
        const v = await look()
        const state = r.code === 0 ? 'active' : 'inactive'
        return {available: true, view: {state, raw: `${state} (${o.statusCmd.join(' ')}: ${describeExec(r)})`, mainPid: v?.kind === 'live' ? v.pid : null, restarts: []}}
      }
      if (o.pidFile) {
        const v = (await look())!
        // A pid file that cannot be believed (stale, another user's, a symlink, not the service's): no state, no action.
        if (v.kind === 'stale' || v.kind === 'untrusted') return {available: false, reason: v.detail}
        const state = v.kind === 'live' ? 'active' : 'inactive'
        return {available: true, view: {state, raw: v.kind === 'live' ? `${state} (${v.detail})` : `inactive (no live pid in ${o.pidFile}: ${v.detail})`, mainPid: v.kind === 'live' ? v.pid : null, restarts: []}}
      }
      return {available: true, view: {state: 'unknown', raw: 'no --pid-file or --status-cmd', mainPid: null, restarts: []}}
    },
    servicePids: (view) => (view?.mainPid ? o.procs.descendants([view.mainPid]) : null),
    async stop() {
      if (o.stopCmd) return execStep(await runDetached(o.stopCmd, {timeoutMs: o.cmdTimeoutMs + o.graceMs, logFile: o.logFile}))
      const v = looked ?? (await look())
      if (v?.kind === 'stale' || v?.kind === 'untrusted') return {ok: false, refused: true, detail: v.detail}
      if (v?.kind !== 'live') return null
      const targets = o.procs.descendants([v.pid]).flatMap((pid) => {
        const st = pid === v.pid ? {startTime: v.startTime} : o.procs.stat(pid)
        return st ? [{pid, startTime: st.startTime}] : []
      })
      return o.terminate(targets)
    },
    async start() {
      const argv = o.startCmd ?? o.restartCmd!
      return execStep(await runDetached(argv, {timeoutMs: o.cmdTimeoutMs * 3, logFile: o.logFile}))
    },
  }
}
