import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {countJournalRestarts, parseSystemctlShow, systemdView} from '../../core/manager-parse.js'
import {describeExec, run} from '../exec.js'
import {execStep, type ManagerOptions, type ServiceManager, type StepResult} from './service-manager.js'

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
    const r = execStep(await run(argv, {timeoutMs}))
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
