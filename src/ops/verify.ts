import {formatMs} from '../core/duration.js'
import {parseSystemctlShow} from '../core/manager-parse.js'
import {findBlock} from '../core/units.js'
import {manifestProblems, type Manifest} from '../core/units-manifest.js'
import {buildPlan, type InnerCommand} from '../core/units-plan.js'
import {judgeFile, judgeHeartbeat, judgeLastRun, judgeTextfile, judgeUnit, verifyVerdict} from '../core/units-verify.js'
import type {Check, Verdict} from '../core/verdict.js'
import type {InstallDeps} from './install.js'

export interface VerifyInput {
  /** One install, or (null) every install in the manifest dir. */
  name: string | null
  /** Units to check as well, installed by medic or not. */
  units: string[]
  /** systemctl --user for --unit. */
  userUnits: boolean
}

export interface VerifyDeps extends InstallDeps {
  /** Parses a manifest's command line again against today's medic (verify's drift check). */
  parseInner: (words: string[]) => Promise<InnerCommand>
}

const SUBJECT = 'INSTALL'

/**
 * `medic verify`: everything in the manifest (and each --unit) is loaded, enabled and
 * active; a check's timer fired and its last verdict is recent and not ALERT; textfiles are
 * fresh and valid; the log is writable; and every file is what medic wrote and would write
 * now. Ready to be a cron line or a Nagios check itself.
 */
export async function verify(input: VerifyInput, deps: VerifyDeps): Promise<Verdict> {
  const names = input.name ? [input.name] : deps.manifests.names()
  const checks: Check[] = []
  const described: string[] = []
  if (names.length === 0 && input.units.length === 0) {
    return {subject: SUBJECT, status: 'UNKNOWN', summary: `nothing to verify: no install recorded in ${deps.manifests.path('x').replace(/\/x\.json$/, '')} and no --unit`, checks, actions: []}
  }
  for (const name of names) {
    const m = deps.manifests.read(name)
    if (!m) {
      checks.push({name, status: 'ALERT', detail: `medic-${name} is not installed (no manifest ${deps.manifests.path(name)})`})
      continue
    }
    const one = await verifyOne(m, deps)
    checks.push(...one.checks)
    described.push(`${m.unitName} (${one.brief})`)
  }
  for (const unit of input.units) {
    const r = await deps.systemd.systemctl(['show', unit, '--no-pager', '-p', 'LoadState,UnitFileState,ActiveState,SubState,NeedDaemonReload'], input.userUnits)
    if (r.code !== 0) checks.push({name: unit, status: 'UNKNOWN', detail: `cannot ask systemd about ${unit}: ${(r.stderr.trim() || `exit ${r.code}`).split('\n')[0]}`})
    else checks.push(judgeUnit(unit, parseSystemctlShow(r.stdout), 'any'))
    described.push(unit)
  }
  const v = verifyVerdict(checks, `verified ${described.join(', ')}`)
  return {subject: SUBJECT, status: v.status, summary: v.summary, checks, actions: [], extra: {installs: names, units: input.units}}
}

async function verifyOne(m: Manifest, deps: VerifyDeps): Promise<{checks: Check[]; brief: string}> {
  const checks: Check[] = []
  let brief = m.kind === 'service' ? 'running' : m.target === 'wsl' ? 'wsl boot command' : m.kind === 'harden' ? 'hardening' : m.target
  const now = deps.clock.wall().getTime()
  const forged = manifestProblems(m, deps.host)
  if (forged.length) return {checks: [{name: `manifest of ${m.name}`, status: 'ALERT', detail: `the manifest ${deps.manifests.path(m.name)} names what is not medic-${m.name}’s own: ${forged.join('; ')}`}], brief: 'manifest refused'}
  // Drift: what install would write now, from the same request.
  let inner: InnerCommand | null = null
  let plan = null
  try {
    inner = m.request.command ? await deps.parseInner(m.request.command) : null
    const p = buildPlan(m.request, inner, deps.host)
    if (p.ok) plan = p.plan
    else checks.push({name: `${m.unitName} plan`, status: 'ALERT', detail: `medic install would refuse it now: ${p.reason}`})
  } catch (e) {
    checks.push({name: `${m.unitName} plan`, status: 'ALERT', detail: `its command line no longer parses: ${(e as Error).message}`})
  }
  for (const f of m.files) checks.push(judgeFile(f.path, deps.files.read(f.path), f.text, plan ? (plan.files.find((p) => p.path === f.path)?.text ?? null) : f.text, {mode: f.mode, uid: f.uid ?? deps.host.uid}))
  if (plan) for (const p of plan.files) if (!m.files.some((f) => f.path === p.path)) checks.push({name: `file ${p.path}`, status: 'ALERT', detail: `${p.path} would be written by medic install now but is not installed: install again`})

  const s = m.systemd
  let startedMs: number | null = null
  if (s) {
    const units = [s.service, s.timer].filter((u): u is string => Boolean(u))
    for (const u of units) {
      const r = await deps.systemd.systemctl(['show', u, '--no-pager', '--timestamp=unix', '-p', 'LoadState,UnitFileState,ActiveState,SubState,NeedDaemonReload,Result,ExecMainStatus,LastTriggerUSec,ActiveEnterTimestamp'], s.user)
      if (r.code !== 0) {
        checks.push({name: u, status: 'UNKNOWN', detail: `cannot ask systemd about ${u}: ${(r.stderr.trim() || `exit ${r.code}`).split('\n')[0]}`})
        continue
      }
      const props = parseSystemctlShow(r.stdout)
      if (u === s.service) startedMs = /^@(\d+)/.test(props.ActiveEnterTimestamp ?? '') ? Number(/^@(\d+)/.exec(props.ActiveEnterTimestamp!)![1]) * 1000 : null
      // A check's oneshot is inactive between runs: its timer is what must be active.
      if (u === s.service && s.timer) {
        if (props.LoadState !== 'loaded') checks.push({name: u, status: 'ALERT', detail: `${u} is ${props.LoadState || 'unknown'} (not loaded)`})
        else if (props.NeedDaemonReload === 'yes') checks.push({name: u, status: 'ALERT', detail: `${u} changed on disk but systemd was not reloaded (daemon-reload)`})
        // systemd's own word on its last run (exit 1, WARN, is SuccessExitStatus): a failed run is ALERT whatever a record says.
        else if (props.Result && props.Result !== 'success') checks.push({name: u, status: 'ALERT', detail: `its last run failed (Result=${props.Result}, ExecMainStatus=${props.ExecMainStatus ?? '?'})`})
        continue
      }
      checks.push(judgeUnit(u, props, u === s.timer ? 'any' : 'running'))
    }
    if (s.hardened) {
      const dropIn = m.files.find((f) => f.role === 'dropin')
      const r = await deps.systemd.systemctl(['show', s.hardened, '--no-pager', '-p', 'LoadState,DropInPaths,NeedDaemonReload'], s.user)
      const props = parseSystemctlShow(r.stdout)
      const loaded = r.code === 0 && props.LoadState === 'loaded' && dropIn && (props.DropInPaths ?? '').split(' ').includes(dropIn.path) && props.NeedDaemonReload !== 'yes'
      checks.push({name: `hardening of ${s.hardened}`, status: loaded ? 'OK' : 'ALERT', detail: loaded ? `${dropIn!.path} is in effect` : `${s.hardened}: drop-in ${dropIn?.path ?? '?'} not in effect (${r.code !== 0 ? r.stderr.trim().split('\n')[0] : `LoadState=${props.LoadState}, NeedDaemonReload=${props.NeedDaemonReload}`})`})
    }
  }
  if (m.target === 'cron') {
    const running = deps.cronRunning()
    checks.push({name: 'cron daemon', status: running ? 'OK' : 'ALERT', detail: running ? 'a cron daemon is running' : `no cron daemon is running: ${m.unitName} never runs`})
    if (m.crontab) {
      const cur = await deps.crontab.read()
      const pos = cur.ok ? findBlock(cur.text, m.unitName) : null
      const same = cur.ok && pos && pos !== 'ambiguous' && cur.text.slice(pos.start, pos.end) === m.crontab.block
      const planned = plan?.crontabBlock ?? null
      checks.push({name: 'crontab', status: same && planned === m.crontab.block ? 'OK' : cur.ok ? 'ALERT' : 'UNKNOWN', detail: !cur.ok ? cur.detail : !same ? `the ${m.unitName} block in your crontab is gone or was changed` : planned !== m.crontab.block ? 'medic install would write another crontab block now: install again' : 'as medic wrote it'})
    }
  }
  if (m.wsl) {
    const disk = deps.files.read(m.wsl.path)
    const present = disk.kind === 'file' && disk.text.split('\n').some((l) => l.replace(/\r$/, '') === m.wsl!.line)
    const planned = plan?.wsl?.line ?? null
    checks.push({name: `wsl ${m.wsl.path}`, status: present && planned === m.wsl.line ? 'OK' : 'ALERT', detail: !present ? `medic’s [boot] command is not in ${m.wsl.path} any more` : planned !== m.wsl.line ? 'medic install would write another [boot] command now: install again' : '[boot] command as medic wrote it'})
  }
  // The run itself: its last verdict (checks), its textfiles, its log.
  const w = m.watch
  if (m.kind === 'check' && w.commandId && w.subject && w.everyMs) {
    const rec = deps.lastVerdict(w.stateDir, w.commandId, w.subject, m.name)
    checks.push(judgeLastRun(m.unitName, rec, now, w.everyMs))
    if (rec) brief = `last run ${rec.token} ${formatMs(Math.max(0, now - Date.parse(rec.at)))} ago`
  } else if (m.kind === 'service' && w.commandId && w.subject) {
    const rec = deps.lastVerdict(w.stateDir, w.commandId, w.subject, m.name)
    // Its loop's heartbeat (each pass refreshes the record): an active unit whose loop is frozen is ALERT.
    if (w.heartbeat) checks.push(judgeHeartbeat(m.unitName, rec, now, w.heartbeat.intervalMs, startedMs, w.heartbeat.startupMs))
    else if (rec) checks.push({name: `last verdict of ${m.unitName}`, status: 'OK', detail: `${rec.token} ${formatMs(Math.max(0, now - Date.parse(rec.at)))} ago (a long-running command records one when it ends)`})
  }
  for (const t of w.textfiles) checks.push(judgeTextfile(t.path, deps.files.mtimeMs(t.path), deps.files.readIfFile(t.path), now, t.intervalMs))
  if (w.logFile) {
    const l = deps.files.writable(w.logFile)
    checks.push({name: `log ${w.logFile}`, status: l.ok ? 'OK' : 'ALERT', detail: l.detail})
  }
  return {checks, brief}
}
