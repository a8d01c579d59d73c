import {describeExec, run, runDetached} from '../exec.js'
import {readPidFile} from '../pid-file.js'
import {execStep, type ManagerOptions, type ServiceManager} from './service-manager.js'

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
      if (o.stopCmd) return execStep(await runDetached(o.stopCmd, {timeoutMs: o.cmdTimeoutMs + o.graceMs, logFile: o.logFile}))
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
      return execStep(await runDetached(argv, {timeoutMs: o.cmdTimeoutMs * 3, logFile: o.logFile}))
    },
  }
}
