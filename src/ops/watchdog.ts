import {basename, join} from 'node:path'
import {formatMs} from '../core/duration.js'
import {hangStep, parseOpsRequest, type HangRecord} from '../core/housekeeping.js'
import {worstOf, type Action, type Check, type Status, type Verdict} from '../core/verdict.js'
import {unavailableText} from '../core/manager-parse.js'
import {claim, consume, moveNoClobber, refusedDir, writeNew} from '../sys/file-gate.js'
import {isDir, listNames, present, readText} from '../sys/files.js'
import type {ServiceManager} from '../sys/managers.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import type {ProcessDeps} from '../deps.js'
import {locksClean, sessionsArchive} from './housekeeping.js'
import {restartService} from './restart.js'
import {watchLoop} from './watch-loop.js'

export interface WatchdogInput {
  sessionsDir: string
  lockMaxAgeMs: number
  lockPidsLocal?: boolean
  maxSessionBytes: number
  quietMs: number
  pruneOlderThanMs: number | null
  gatewayMatch: RegExp
  hangThresholdMs: number
  restartFlag: string | null
  opsDir: string | null
  port: number | null
  graceMs: number
  dryRun: boolean
  statePath: string
  /** Loop: run sessions archival every N passes (deterministic, not watchdog.sh's 1-in-5 dice). */
  sessionsEvery: number
  intervalMs: number | null
  startupDelayMs: number
  /** `--timeout`: no restart starts after it, and the restart's own waits end there. */
  deadlineAt: number | null
}

export interface WatchdogDeps extends ProcessDeps {
  manager: ServiceManager
  announce: (line: string) => void
  /** Each pass's verdict, for --metrics-file and --notify. */
  observe?: (v: Verdict, ms: number) => void
}

type Part = {status: Status; text: string; checks: Check[]; actions: Action[]; details: string[]}

const ok = (name: string, detail: string): Part => ({status: 'OK', text: '', checks: [{name, status: 'OK', detail}], actions: [], details: []})

/** One pass: locks, sessions, hung gateway, restart flag, ops requests. */
export async function watchdogPass(input: WatchdogInput, deps: WatchdogDeps, pass: number): Promise<Verdict> {
  const wd = (line: string) => {
    deps.log.line(`[WATCHDOG] ${line}`)
    deps.progress(`[WATCHDOG] ${line}`)
  }
  const parts: Part[] = []
  const fromVerdict = (v: Verdict): Part => ({status: v.status, text: v.status === 'OK' ? '' : v.summary, checks: v.checks, actions: v.actions, details: v.details ?? []})
  parts.push(fromVerdict(locksClean({dir: input.sessionsDir, maxAgeMs: input.lockMaxAgeMs, dryRun: input.dryRun, pidsLocal: input.lockPidsLocal}, deps)))
  if (pass % input.sessionsEvery === 0) {
    parts.push(fromVerdict(sessionsArchive({dir: input.sessionsDir, maxBytes: input.maxSessionBytes, quietMs: input.quietMs, pruneOlderThanMs: input.pruneOlderThanMs, dryRun: input.dryRun}, deps)))
  }
  parts.push(await hangCheck(input, deps, wd))
  parts.push(await restartFlag(input, deps, wd))
  parts.push(await opsRequests(input, deps, wd))

  const status = worstOf(parts.map((p) => p.status))
  const texts = parts.filter((p) => p.text).sort((a, b) => (a.status === 'ALERT' ? -1 : 0) - (b.status === 'ALERT' ? -1 : 0)).map((p) => p.text)
  return {
    subject: 'WATCHDOG', status,
    summary: texts.length ? texts.join('; ') : 'nothing to do: no orphan lock, no oversized session, gateway not hung, no restart flag, no ops request',
    checks: parts.flatMap((p) => p.checks), actions: parts.flatMap((p) => p.actions), details: parts.flatMap((p) => p.details),
  }
}

async function restart(why: string, input: WatchdogInput, deps: WatchdogDeps, wd: (l: string) => void): Promise<{ok: boolean; detail: string; actions: Action[]}> {
  if (input.dryRun) return {ok: true, detail: `dry run: would restart via ${deps.manager.label}`, actions: []}
  const st = await deps.manager.status()
  if (!st.available) return {ok: false, detail: `cannot restart: ${unavailableText(deps.manager, st.reason)}`, actions: []}
  wd(`${why}: restarting via ${deps.manager.label}`)
  const r = await restartService({manager: deps.manager, alreadyDown: st.view?.state === 'inactive', port: input.port, graceMs: input.graceMs, deadlineAt: input.deadlineAt, t0: deps.clock.now()}, deps, wd)
  return {ok: r.ok, detail: r.ok ? `restarted via ${deps.manager.label}` : r.reason, actions: r.actions}
}

/** D or Z must persist for --hang-threshold (watchdog.sh acted on one sample). pid 1 is never signalled. */
async function hangCheck(input: WatchdogInput, deps: WatchdogDeps, wd: (l: string) => void): Promise<Part> {
  const now = deps.clock.wall().getTime()
  const rec = readJson<HangRecord>(input.statePath) ?? {seen: {}}
  const mine = new Set([deps.selfPid, ...deps.procs.ancestors(deps.selfPid).map((p) => p.pid)])
  const gateways = deps.procs.list().filter((pid) => !mine.has(pid)).map((pid) => deps.procs.get(pid)).filter((p) => p && input.gatewayMatch.test(`${p.comm} ${p.cmdline.join(' ')}`))
  const step = hangStep(rec, gateways.filter((p) => p !== null), now, input.hangThresholdMs)
  for (const w of step.waiting) wd(`Gateway pid ${w.pid} in state ${w.state} for ${formatMs(w.forMs)} (threshold ${formatMs(input.hangThresholdMs)})`)
  const {hung} = step
  // The record is what makes --hang-threshold pass: without it a hung gateway is never
  // restarted, so a record that cannot be written is an ALERT, not a quiet OK.
  if (step.changed) {
    try {
      writeFileAtomic(input.statePath, JSON.stringify(step.record) + '\n')
    } catch (e) {
      const why = `cannot record the hang state: ${(e as Error).message}; a gateway hung in D/Z would never reach --hang-threshold`
      wd(why)
      return {status: 'ALERT', text: why, checks: [{name: 'gateway', status: 'ALERT', detail: why}], actions: [], details: []}
    }
  }
  if (gateways.length === 0) return ok('gateway', `no process matches ${input.gatewayMatch.source}`)
  if (hung.length === 0) return ok('gateway', `${gateways.length} gateway process(es), none hung`)
  // A name proves nothing (anyone can call a process clawdbot-gateway): only a process of
  // the managed service counts — the manager's own (cgroup, main pid tree) or the port
  // holder's tree — and of the service's user.
  const svc = await serviceProcesses(input, deps)
  const own = hung.filter((h) => svc.pids?.has(h.pid) && (svc.uids.size === 0 || svc.uids.has(deps.procs.realUid(h.pid) ?? -1)))
  if (own.length === 0) {
    const names = hung.map((h) => `pid ${h.pid} (${h.comm}, uid ${deps.procs.realUid(h.pid) ?? '?'}) in ${h.state} for ${formatMs(h.forMs)}`).join(', ')
    if (svc.pids === null) {
      const why = `${names} matches ${input.gatewayMatch.source}, but the service's processes are unknown (${svc.why}): not restarted on a name alone`
      wd(why)
      return {status: 'ALERT', text: why, checks: [{name: 'gateway', status: 'ALERT', detail: why}], actions: [], details: []}
    }
    return ok('gateway', `${names} matches ${input.gatewayMatch.source} but is not the service's (${svc.why}): left alone`)
  }
  const h = own[0]
  const what = `gateway pid ${h.pid} (${h.comm}) hung in ${h.state} state for ${formatMs(h.forMs)}`
  wd(`Gateway is hung (state: ${h.state}), restarting...`)
  if (h.pid === 1) return {status: 'ALERT', text: `${what}: it is PID 1, which medic never signals; restart the container`, checks: [{name: 'gateway', status: 'ALERT', detail: what}], actions: [], details: []}
  const why = h.state === 'Z' ? `${what} (a zombie: its parent pid ${h.ppid} must reap it)` : what
  const r = await restart(why, input, deps, wd)
  const status: Status = r.ok ? (input.dryRun ? 'ALERT' : 'RECOVERED') : 'ALERT'
  return {status, text: `${why}; ${r.detail}`, checks: [{name: 'gateway', status, detail: `${why}; ${r.detail}`}], actions: r.actions, details: []}
}

/** The managed service's processes (manager's view ∪ the port holders' trees) and the uids running its roots; null pids when neither is known. */
async function serviceProcesses(input: WatchdogInput, deps: WatchdogDeps): Promise<{pids: Set<number> | null; uids: Set<number>; why: string}> {
  const st = await deps.manager.status()
  const fromManager = st.available || st.view ? deps.manager.servicePids(st.view) : null
  const holders = input.port !== null ? (await deps.ports.listeners(input.port)).pids : []
  const roots = [...(st.view?.mainPid ? [st.view.mainPid] : []), ...holders]
  const uids = new Set(roots.map((pid) => deps.procs.realUid(pid)).filter((u): u is number => u !== null))
  const where = [fromManager !== null ? `${deps.manager.label}: ${fromManager.length} process(es)` : `${deps.manager.label}: none known`, input.port !== null ? `port ${input.port}: ${holders.length ? `held by pid ${holders.join(', ')}` : 'not held'}` : null].filter(Boolean).join('; ')
  if (fromManager === null && holders.length === 0) return {pids: null, uids, why: where}
  return {pids: new Set([...(fromManager ?? []), ...deps.procs.descendants(holders)]), uids, why: `${where}; uid ${[...uids].join(', ') || '?'}`}
}

async function restartFlag(input: WatchdogInput, deps: WatchdogDeps, wd: (l: string) => void): Promise<Part> {
  if (!input.restartFlag || !present(input.restartFlag)) return ok('restart flag', input.restartFlag ? `${input.restartFlag}: absent` : 'not watched')
  wd('Restart flag detected, restarting Clawdbot...')
  // Consumed once, before acting: a crash never repeats it.
  try {
    if (!input.dryRun && !consume(input.restartFlag)) return ok('restart flag', 'consumed by another run')
  } catch (e) {
    const why = `not consumed, nothing restarted: ${(e as Error).message}`
    wd(`Restart flag ${why}`)
    return {status: 'ALERT', text: `restart flag ${why}`, checks: [{name: 'restart flag', status: 'ALERT', detail: why}], actions: [], details: []}
  }
  const r = await restart('restart flag', input, deps, wd)
  const status: Status = r.ok ? (input.dryRun ? 'ALERT' : 'RECOVERED') : 'ALERT'
  return {status, text: `restart flag: ${r.detail}`, checks: [{name: 'restart flag', status, detail: r.detail}], actions: r.actions, details: []}
}

/**
 * `req-*.json` in --ops-dir: each is claimed through the file gate into processing/ (a
 * request runs at most once, even with two watchdogs; a file left there by a crashed run
 * is never replaced: the claim takes a free name beside it), then moved to done/ or
 * error/ — again under a free name — with a result record created beside it, never over
 * anything. What medic cannot do is an error, never "done".
 */
async function opsRequests(input: WatchdogInput, deps: WatchdogDeps, wd: (l: string) => void): Promise<Part> {
  if (!input.opsDir || !isDir(input.opsDir)) return ok('ops requests', input.opsDir ? `${input.opsDir}: no such directory` : 'not watched')
  const reqs = listNames(input.opsDir).filter((n) => /^req-.*\.json$/.test(n)).sort()
  const refused = reqs.length ? refusedDir(input.opsDir) : null
  if (refused) {
    wd(`Requests left alone: ${refused}`)
    return {status: 'ALERT', text: `ops requests left alone: ${refused}`, checks: [{name: 'ops requests', status: 'ALERT', detail: refused}], actions: [], details: []}
  }
  if (reqs.length === 0 || input.dryRun) return ok('ops requests', input.dryRun && reqs.length ? `dry run: ${reqs.length} request(s) left alone` : 'none')
  const processing = join(input.opsDir, 'processing')
  const actions: Action[] = []
  const results: string[] = []
  let failed = 0
  let done = 0
  const trouble = (n: string, e: unknown) => {
    const why = (e as Error).message
    wd(`Request ${n}: ${why}`)
    results.push(`${n} left in place (${why})`)
    failed++
  }
  for (const n of reqs) {
    let claimed: string | null
    try {
      claimed = claim(join(input.opsDir, n), processing)
    } catch (e) {
      trouble(n, e) // not a regular file, or the folder cannot be written
      continue
    }
    if (!claimed) continue // another watchdog claimed it
    wd(`Processing request: ${join(input.opsDir, n)}`)
    const req = parseOpsRequest(readText(claimed) ?? '')
    let outcome: {ok: boolean; detail: string}
    if (!req.ok) {
      wd(`Unknown action: ${req.error}`)
      outcome = {ok: false, detail: req.error}
    } else if (req.action === 'restart') {
      wd('Executing restart...')
      const r = await restart(`ops request ${n}`, input, deps, wd)
      actions.push(...r.actions)
      outcome = {ok: r.ok, detail: r.detail}
    } else {
      outcome = {ok: false, detail: `unsupported: medic cannot ${req.action === 'set_model' ? 'change the gateway model' : 'change the gateway timezone'}; nothing was changed`}
      wd(`${req.action}: ${outcome.detail}`)
    }
    let dest: string | null
    try {
      dest = moveNoClobber(claimed, join(input.opsDir, outcome.ok ? 'done' : 'error'), basename(claimed))
      if (!dest) throw new Error(`${claimed}: vanished from processing/`)
      writeNew(join(input.opsDir, outcome.ok ? 'done' : 'error'), basename(dest).replace(/\.json$/, '.result.json'), JSON.stringify({request: n, file: basename(dest), action: req.ok ? req.action : null, status: outcome.ok ? 'done' : 'error', detail: outcome.detail, at: deps.clock.wall().toISOString()}, null, 2) + '\n')
    } catch (e) {
      trouble(n, e)
      continue
    }
    actions.push({action: 'ops-request', target: n, result: `${outcome.ok ? 'done' : 'error'}: ${outcome.detail}`, ms: 0})
    results.push(`${n} ${outcome.ok ? 'done' : `error (${outcome.detail})`}`)
    if (outcome.ok) done++
    else failed++
  }
  const status: Status = failed ? 'ALERT' : done ? 'RECOVERED' : 'OK'
  return {status, text: results.length ? `ops requests: ${results.join(', ')}` : '', checks: [{name: 'ops requests', status, detail: results.join(', ') || 'none'}], actions, details: []}
}

/** `medic watchdog` without --once: a pass every --interval; a verdict line on each status change. */
export async function watchdogLoop(input: WatchdogInput, deps: WatchdogDeps): Promise<Verdict> {
  deps.log.line('[WATCHDOG] Starting watchdog')
  deps.progress('[WATCHDOG] Starting watchdog')
  return watchLoop((n) => watchdogPass(input, deps, n), {announce: deps.announce, intervalMs: input.intervalMs ?? 5000, startupDelayMs: input.startupDelayMs, subject: 'WATCHDOG', observe: deps.observe})
}
