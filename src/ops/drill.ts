import {
  describeObservation, describeStep, dropInOwner, inBaseline, installedGuards, isStopped, shortStep, missing, planDrill, portNotOfPid, portNotOfUnit, procLabel, restoreFor, startRecovery, stepRecovery,
  type DrillKind, type DrillObservation, type InstalledFact, type DrillPlan, type DrillStep, type ProcId, type RecoveryCriteria, type RecoveryState,
} from '../core/drill.js'
import {formatMs} from '../core/duration.js'
import {systemdView} from '../core/manager-parse.js'
import {isRunnerCmdline} from '../core/ollama/api.js'
import type {Action, Check, Status, Verdict} from '../core/verdict.js'
import type {DrillHelpers, Guard, Squatter} from '../sys/drill-helpers.js'
import {JOB_CONTROL_SIGNALS, type HubSignal, type SignalHub} from '../sys/signal-hub.js'
import type {Prober} from '../sys/probe.js'
import type {SystemdUnits} from '../sys/systemd-unit.js'
import type {ProcessDeps} from '../deps.js'

export interface DrillInput {
  kind: DrillKind
  subject: string
  pid: number | null
  unit: string | null
  port: number | null
  url: string | null
  withinMs: number
  holdMs: number
  intervalMs: number
  probeTimeoutMs: number
  confirm: number
  cmdTimeoutMs: number
  dryRun: boolean
  deadlineAt: number | null
}

export interface DrillDeps extends ProcessDeps {
  prober: Prober
  helpers: DrillHelpers
  units: SystemdUnits
  interrupts: SignalHub
  /** What medic install recorded in the state dir (its manifests). */
  installs: () => Promise<InstalledFact[]>
}

/** The drop-in file name under /run/systemd/system/<unit>.d/. */
export const DROP_IN_FILE = '90-medic-drill.conf'
/** The observation stops this long before --timeout, so the restore fits in the runner's grace. */
const RESTORE_RESERVE_MS = 500
const UNIT_PROPS = ['LoadState', 'ActiveState', 'SubState', 'MainPID', 'ControlGroup', 'Restart', 'RestartUSec', 'NRestarts', 'Result']

interface Target {
  service: ProcId
  runner?: ProcId
  /** The port's other LISTEN owners, all of the service (forked workers sharing its socket). */
  coOwners: ProcId[]
  /** Who might recover it, in words: the unit and its Restart=, a medic supervisor, the parent. */
  guards: string[]
}

type Found = {ok: true; target: Target} | {ok: false; status: Status; reason: string}

class NotInjected extends Error {
  constructor(readonly status: Status, message: string) {
    super(message)
  }
}

/**
 * `medic drill`: inject one real fault, wait for the installed protection to recover the
 * service, prove it answers again, and undo everything the drill did on every way out.
 */
export async function drill(input: DrillInput, deps: DrillDeps): Promise<Verdict> {
  const {clock, procs} = deps
  const t0 = clock.now()
  const at = () => Math.round(clock.now() - t0)
  const actions: Action[] = []
  const details: string[] = []
  const checks: Check[] = []
  const timeline: {ms: number; saw: string}[] = []
  const subject = input.subject
  let restoreCheck: Check | null = null
  const end = (status: Status, summary: string, extra: Record<string, unknown> = {}): Verdict => {
    deps.log.line(`drill ${input.kind}: ${status} ${summary}`)
    return {subject, status, summary: `${input.kind}: ${summary}`, checks: restoreCheck ? [...checks, restoreCheck] : checks, actions, details, extra: {kind: input.kind, dryRun: input.dryRun, timeline, ...extra}}
  }
  const cmdTimeout = () => Math.round(Math.max(100, Math.min(input.cmdTimeoutMs, input.deadlineAt === null ? Infinity : input.deadlineAt - clock.now())))
  const act = (action: string, target: string, result: string) => {
    actions.push({action, target, result, ms: at()})
    deps.progress(`${action} ${target}: ${result}`)
    deps.log.line(`drill ${input.kind}: ${action} ${target}: ${result}`)
  }

  // 0. A drop-in a drill left on this unit (its medic and its guard were killed): removed
  //    when its writer is gone and it is exactly what medic writes; anything else stays.
  if (input.unit !== null) {
    const stale = await clearStaleDropIn(input.unit, input.dryRun, deps, act, cmdTimeout)
    if (stale !== null) {
      checks.push({name: 'drop-in', status: 'UNKNOWN', detail: stale})
      return end('UNKNOWN', `${stale}; nothing injected`)
    }
  }

  // 1. The target, by identity, and who might recover it.
  const found = await findTarget(input, deps, cmdTimeout)
  if (!found.ok) {
    checks.push({name: 'target', status: found.status, detail: found.reason})
    return end(found.status, `${found.reason}; nothing injected`)
  }
  const {service, runner, coOwners} = found.target
  const guards = [...found.target.guards, ...installedGuards(await deps.installs(), input.port, input.unit)]
  const faulted = input.kind === 'freeze' ? runner : service
  const killsAll = input.kind === 'kill' || input.kind === 'squat' || input.kind === 'crash-loop'
  const alsoKilled = killsAll && coOwners.length ? `; with the port's other owners ${coOwners.map(procLabel).join(', ')}` : ''
  checks.push({name: 'target', status: 'OK', detail: `${procLabel(service)}: ${service.cmdline.join(' ')}${runner ? `; runner ${procLabel(runner)}` : ''}${alsoKilled}`})
  details.push(`target ${procLabel(service)}: ${service.cmdline.join(' ')}`)
  details.push(`protection seen: ${guards.join('; ') || 'none'}`)

  // 2. The same protection as every other signal: never pid 1, medic, its ancestors, a
  //    run-dev-safe job or its descendants, or anything matching --protect.
  for (const p of [service, ...(runner ? [runner] : []), ...(killsAll ? coOwners : [])]) {
    const refusal = deps.gate.inspect(p.pid, p.startTime)?.refusal
    if (refusal) {
      checks.push({name: 'protection', status: 'ALERT', detail: `${procLabel(p)}: ${refusal.reason}`})
      return end('ALERT', `refused: ${procLabel(p)} ${refusal.reason}; nothing injected`, {target: targetJson(found.target, input)})
    }
  }

  // 3. The plan.
  const planned = planDrill({kind: input.kind, service, runner, coOwners, port: input.port, url: input.url, unit: input.unit, holdMs: input.holdMs}, {pid: deps.selfPid, startTime: procs.stat(deps.selfPid)?.startTime ?? '0'})
  if (!planned.ok) return end('UNKNOWN', planned.reason)
  const plan = planned.plan
  for (const s of plan.inject) details.push(`plan: ${describeStep(s)}`)
  details.push(`plan: then wait up to ${formatMs(input.withinMs)} until ${plan.recoveredWhen}; undo whatever is left (SIGCONT, squatter, drop-in) on every way out`)
  let criteria: RecoveryCriteria = {kind: input.kind, originalPid: service.pid, hasUnit: input.unit !== null}

  let squatter: Squatter | null = null
  const observe = (limitAt: number): Promise<DrillObservation> => observeService(input, deps, faulted!, service, squatter, limitAt, cmdTimeout)

  // 4. The baseline: a service that does not answer now proves nothing.
  const before = await observe(clock.now() + input.probeTimeoutMs)
  const gap = missing(before, criteria, 'before')
  timeline.push({ms: at(), saw: `before: ${describeObservation(before, criteria)}`})
  if (gap) {
    checks.push({name: 'baseline', status: 'ALERT', detail: gap})
    return end('ALERT', `not injected: the service is not healthy before the drill: ${gap}`, {target: targetJson(found.target, input), plan: plan.inject.map(describeStep)})
  }
  checks.push({name: 'baseline', status: 'OK', detail: describeObservation(before, criteria)})
  // Who held the port before the fault, by identity: none of them counts as the new process.
  criteria = {...criteria, baselineOwners: [...(before.owners ?? []), service, ...coOwners].map((x) => ({pid: x.pid, startTime: x.startTime}))}

  if (input.dryRun) {
    return end('UNKNOWN', `dry run, nothing injected: would ${plan.inject.filter((x) => x.op !== 'await-squatter').map(shortStep).join(', ')}`, {target: targetJson(found.target, input), plan: plan.inject.map(describeStep)})
  }

  // 5. Inject, watch, and restore whatever happens.
  let interrupted: HubSignal | null = null
  let wake: () => void = () => {}
  const interruptedP = new Promise<'interrupted'>((resolve) => {
    wake = () => resolve('interrupted')
  })
  const unsubscribe = deps.interrupts.subscribe((sig) => {
    if (interrupted) return
    interrupted = sig
    deps.progress(`received ${sig}: restoring`)
    wake()
  })
  // The fault window cannot be suspended: a Ctrl+Z (SIGTSTP) or SIGTTIN while the fault is in
  // place would keep it there — and --within, --timeout with it — for as long as medic stays
  // stopped. Ignored until the restore is done; Ctrl+C still restores and ends it.
  const holdStops = deps.interrupts.subscribe((sig) => {
    deps.progress(`ignored ${sig}: a drill cannot be suspended while its fault is injected (Ctrl+C restores and ends it)`)
    deps.log.line(`drill ${input.kind}: ignored ${sig} while the fault is injected`)
  }, JOB_CONTROL_SIGNALS)
  const nap = (ms: number) => Promise.race([clock.sleep(Math.max(0, ms)), interruptedP])
  const done: DrillStep[] = []
  let guard: Guard | null = null
  let injectedAt: number | null = null
  let failure: NotInjected | null = null
  let outcome: {ok: true; ms: number; state: RecoveryState; last: DrillObservation} | {ok: false; reason: string; state: RecoveryState; last: DrillObservation | null} | null = null
  const restored: {step: string; short: string; ok: boolean; detail: string}[] = []
  const stopAt = input.deadlineAt === null ? null : input.deadlineAt - RESTORE_RESERVE_MS

  // The squatter is drill's own child: stopped through the gate's capability over one's own job.
  const own = deps.gate.scope()
  const signal = async (target: ProcId, sig: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT', restoring: boolean): Promise<string> => {
    if (sig === 'SIGSTOP' && guard) await guard.watch(target.pid, target.startTime)
    // The gate re-reads identity, the registry and --protect at the moment of the signal;
    // undoing drill's own SIGSTOP is a resume, which protection never blocks.
    const s = restoring && sig === 'SIGCONT' ? deps.gate.resume(target.pid, target.startTime) : deps.gate.send(target.pid, target.startTime, sig)
    const r = s.result === 'refused' ? `refused: ${s.reason}` : s.result
    if (sig === 'SIGCONT' && guard && (r === 'sent' || r === 'gone' || r === 'reused')) await guard.forget(target.pid)
    return r
  }

  const perform = async (s: DrillStep, restoring: boolean): Promise<{ok: boolean; detail: string}> => {
    switch (s.op) {
      case 'squatter': {
        const giveUp = Math.min(10_000, Math.max(1000, (stopAt ?? Infinity) - clock.now()))
        squatter = await deps.helpers.squatter(s.port, giveUp)
        const first = await squatter.next()
        if (first === 'waiting EADDRINUSE') return {ok: true, detail: `squatter pid ${squatter.pid} waits for port ${s.port}`}
        if (first === 'bound') throw new NotInjected('UNKNOWN', `port ${s.port} was free before the fault: the target does not hold it`)
        throw new NotInjected('UNKNOWN', `the squatter cannot take port ${s.port}: ${first.replace(/^waiting /, '')}`)
      }
      case 'await-squatter': {
        // The squatter retries every millisecond; should the service win the race anyway
        // (it restarted first), the port shows another holder: say so rather than wait.
        const sq = squatter!
        const line = sq.next()
        for (;;) {
          const r = await Promise.race([line, interruptedP, clock.sleep(50).then(() => 'tick')])
          if (r === 'bound') return {ok: true, detail: `squatter pid ${sq.pid} holds port ${s.port}`}
          if (r === 'interrupted') return {ok: false, detail: 'interrupted'}
          if (r !== 'tick') throw new NotInjected('UNKNOWN', `the squatter could not take port ${s.port} (${r}): nothing squatted`)
          const other = (await deps.ports.listeners(s.port)).pids.filter((p) => p !== sq.pid && p !== service.pid && !coOwners.some((c) => c.pid === p))
          if (other.length) throw new NotInjected('UNKNOWN', `the service re-took port ${s.port} (pid ${other.join(', ')}) before the squatter could: nothing squatted`)
        }
      }
      case 'signal': {
        const r = await signal(s.target, s.signal, restoring)
        // A forked worker of the service may end with its master before its own SIGKILL: that is the fault done.
        if (!restoring && s.target.pid !== service.pid && (r === 'gone' || r === 'reused')) return {ok: true, detail: r === 'gone' ? 'gone already' : 'gone already (pid reused: not signalled)'}
        if (r !== 'sent') {
          if (restoring) return {ok: r === 'gone' || r === 'reused', detail: r === 'gone' ? 'gone: nothing to resume' : r === 'reused' ? 'pid reused: not signalled' : r}
          const why = r === 'reused' ? `pid ${s.target.pid} was reused between discovery and the ${s.signal}: nothing sent`
            : r === 'gone' ? `${procLabel(s.target)} exited before the ${s.signal}`
              : r === 'denied' ? `${s.signal} → ${procLabel(s.target)}: permission denied (run as root or as its user)`
                : `${s.signal} → ${procLabel(s.target)} ${r}`
          throw new NotInjected(r.startsWith('refused') ? 'ALERT' : 'UNKNOWN', why)
        }
        if (s.signal === 'SIGSTOP') {
          const stopped = await waitFor(() => isStopped(procs.stat(s.target.pid)?.state ?? ''), 1000, clock)
          if (!stopped) throw new NotInjected('UNKNOWN', `${procLabel(s.target)} did not stop after SIGSTOP`)
        }
        return {ok: true, detail: 'sent'}
      }
      case 'kill-squatter': {
        const sq = squatter
        if (!sq) return {ok: true, detail: 'no squatter'}
        sq.close()
        own.adopt(sq.pid)
        const r = own.send(sq.pid, sq.startTime, 'SIGKILL').result
        const gone = await Promise.race([sq.exited.then(() => true), clock.sleep(2000).then(() => false)])
        return {ok: gone, detail: gone ? `squatter pid ${sq.pid} ended (SIGKILL: ${r})` : `squatter pid ${sq.pid} still alive after SIGKILL`}
      }
      case 'drop-in': {
        // The guard is told first: should medic die from here on, it removes exactly this text.
        const path = deps.units.dropInPath(s.unit, DROP_IN_FILE)
        if (guard) await guard.watchDropIn(path, s.text)
        const r = deps.units.writeDropIn(s.unit, DROP_IN_FILE, s.text)
        if (!r.ok) throw new NotInjected('UNKNOWN', r.detail)
        return r
      }
      case 'remove-drop-in': {
        const r = deps.units.removeDropIn(s.unit, DROP_IN_FILE)
        if (guard && r.ok) await guard.forgetDropIn(deps.units.dropInPath(s.unit, DROP_IN_FILE))
        return r
      }
      case 'daemon-reload': {
        const r = await deps.units.daemonReload(cmdTimeout())
        if (!r.ok && !restoring) throw new NotInjected('UNKNOWN', r.detail)
        return r
      }
      case 'hold':
        await nap(Math.min(s.ms, (stopAt ?? Infinity) - clock.now()))
        return {ok: true, detail: `held ${formatMs(s.ms)}`}
    }
  }

  try {
    // A dead-man guard for what must be undone should medic be SIGKILLed: a SIGSTOP, a drop-in.
    if (plan.inject.some((s) => (s.op === 'signal' && s.signal === 'SIGSTOP') || s.op === 'drop-in')) {
      guard = await deps.helpers.guard()
      details.push(`guard pid ${guard.pid} in ${guard.where}: undoes the drill if medic is killed`)
    }
    for (const s of plan.inject) {
      if (interrupted) break
      if (stopAt !== null && clock.now() >= stopAt) break
      done.push(s)
      const r = await perform(s, false)
      act(s.op === 'signal' ? s.signal : s.op, stepTarget(s), r.detail)
      if (s.op === 'signal' && injectedAt === null) injectedAt = clock.now()
      if (!r.ok) break
    }
    if (injectedAt !== null && !interrupted) {
      deps.progress.step?.(`waiting up to ${formatMs(input.withinMs)} until ${plan.recoveredWhen}`)
      let state = startRecovery(injectedAt, input.withinMs, input.confirm, stopAt)
      let last: DrillObservation | null = null
      let seen = ''
      for (;;) {
        const o = await Promise.race([observe(state.deadline), interruptedP])
        if (o === 'interrupted') break
        last = o
        const now = clock.now()
        const saw = describeObservation(o, criteria)
        if (saw !== seen) timeline.push({ms: at(), saw})
        seen = saw
        const st = stepRecovery(state, o, criteria, now)
        state = st.state
        if (st.done) {
          outcome = st.ok ? {ok: true, ms: st.recoveredInMs, state, last: o} : {ok: false, reason: st.reason, state, last: o}
          break
        }
        await nap(Math.min(input.intervalMs, state.deadline - clock.now()))
        if (interrupted) break
      }
      deps.progress.step?.()
      if (!outcome && !interrupted) outcome = {ok: false, reason: state.lastMissing ?? 'not observed', state, last}
    }
  } catch (e) {
    if (e instanceof NotInjected) failure = e
    else failure = new NotInjected('UNKNOWN', `internal error: ${(e as Error).message}`)
  } finally {
    // 6. Undo what is left, in reverse, whatever happened above.
    for (const s of restoreFor(done)) {
      let r: {ok: boolean; detail: string}
      try {
        r = await perform(s, true)
      } catch (e) {
        r = {ok: false, detail: (e as Error).message}
      }
      restored.push({step: describeStep(s), short: s.op === 'signal' ? s.signal : shortStep(s), ok: r.ok, detail: r.detail})
      act(`restore ${s.op === 'signal' ? s.signal : s.op}`, stepTarget(s), r.detail)
    }
    if (guard) {
      guard.close()
      await Promise.race([guard.exited, clock.sleep(1000)])
    }
    const sq = squatter as Squatter | null
    if (sq) {
      sq.close()
      await Promise.race([sq.exited, clock.sleep(1000)])
    }
    unsubscribe()
    holdStops()
  }

  const restoreFailed = restored.filter((r) => !r.ok)
  restoreCheck = {name: 'restore', status: restoreFailed.length ? 'ALERT' : 'OK', detail: restored.length ? restored.map((r) => `${r.step}: ${r.detail}`).join('; ') : 'nothing left to undo'}
  const restoredText = restoreFailed.length ? `; RESTORE FAILED: ${restoreFailed.map((r) => r.detail).join('; ')}` : restored.length ? `; restored (${[...new Set(restored.map((r) => r.short))].join(', ')})` : ''
  const extra = {target: targetJson(found.target, input), plan: plan.inject.map(describeStep), restored, guards}
  const protection = guards.length ? guards.join('; ') : 'no protection seen'

  if (failure) {
    checks.push({name: 'inject', status: failure.status, detail: failure.message})
    return end(restoreFailed.length ? 'ALERT' : failure.status, `${failure.message}${restoredText}`, extra)
  }
  if (interrupted) {
    checks.push({name: 'recovery', status: 'UNKNOWN', detail: `interrupted by ${interrupted}`})
    return end(restoreFailed.length ? 'ALERT' : 'UNKNOWN', `interrupted by ${interrupted} after ${formatMs(at())}${restoredText}`, extra)
  }
  if (!outcome) {
    checks.push({name: 'recovery', status: 'ALERT', detail: '--timeout reached during the injection'})
    return end('ALERT', `--timeout reached before the fault was complete${restoredText}`, extra)
  }
  if (outcome.ok) {
    const how = describeRecovery(outcome.last, service, faulted!, input, criteria)
    checks.push({name: 'recovery', status: 'OK', detail: `recovered in ${formatMs(outcome.ms)}: ${how}`})
    if (restoreFailed.length) return end('ALERT', `recovered in ${formatMs(outcome.ms)}${restoredText}`, {...extra, recoveredInMs: Math.round(outcome.ms)})
    return end('OK', `recovered in ${formatMs(outcome.ms)}: ${how}${guards.length ? ` (${protection})` : ''}`, {...extra, recoveredInMs: Math.round(outcome.ms)})
  }
  const saw = outcome.last ? describeObservation(outcome.last, criteria) : 'nothing observed'
  checks.push({name: 'recovery', status: 'ALERT', detail: `not recovered within ${outcome.state.deadlineWhy}: ${outcome.reason}; saw ${saw}`})
  return end('ALERT', `not recovered ${outcome.state.deadlineWhy}: ${outcome.reason}; ${guards.length ? `protection seen: ${protection}` : 'no protection seen'}${restoredText}; saw ${saw}`, {...extra, recoveredInMs: null})
}

/**
 * A drop-in a drill left on the unit: removed (file gate, exact text) and systemd reloaded
 * when the drill that wrote it is gone; the reason not to go on otherwise (null: go on).
 */
async function clearStaleDropIn(unit: string, dryRun: boolean, deps: DrillDeps, act: (action: string, target: string, result: string) => void, cmdTimeout: () => number): Promise<string | null> {
  if (!deps.units.dropInExists(unit, DROP_IN_FILE)) return null
  const path = deps.units.dropInPath(unit, DROP_IN_FILE)
  const text = deps.units.readDropIn(unit, DROP_IN_FILE)
  const owner = text === null ? null : dropInOwner(text)
  if (text === null || owner === null) return `${path} is not a drop-in medic drill wrote: left alone (yours? remove it, then systemctl daemon-reload)`
  if (deps.procs.liveness(owner.pid, owner.startTime) === 'alive') return `another drill (pid ${owner.pid}) still owns ${path}: one drill of a unit at a time`
  if (dryRun) {
    deps.progress(`would remove ${path}, left by a drill that is gone (pid ${owner.pid})`)
    return null
  }
  const r = deps.units.removeDropIn(unit, DROP_IN_FILE, text)
  if (!r.removed) return r.detail
  const reload = await deps.units.daemonReload(cmdTimeout())
  act('remove-drop-in', unit, `left by a drill that is gone (pid ${owner.pid}): ${r.detail}; ${reload.detail}`)
  return null
}

function stepTarget(s: DrillStep): string {
  if (s.op === 'signal') return procLabel(s.target)
  if (s.op === 'squatter' || s.op === 'await-squatter' || s.op === 'kill-squatter') return `port ${s.port}`
  if (s.op === 'drop-in' || s.op === 'remove-drop-in') return s.unit
  if (s.op === 'hold') return formatMs(s.ms)
  return 'systemd'
}

function targetJson(t: Target, input: DrillInput): Record<string, unknown> {
  return {pid: t.service.pid, comm: t.service.comm, cmdline: t.service.cmdline, runner: t.runner ? {pid: t.runner.pid, comm: t.runner.comm} : null, unit: input.unit, port: input.port, url: input.url}
}

function describeRecovery(o: DrillObservation, service: ProcId, faulted: ProcId, input: DrillInput, c: RecoveryCriteria): string {
  const parts: string[] = []
  if (input.kind === 'stop' || input.kind === 'freeze') parts.push(`${input.kind === 'freeze' ? 'runner ' : ''}pid ${faulted.pid} ${o.faulted === 'gone' ? 'killed' : 'resumed'}`)
  const owner = o.owners?.find((x) => x.pid !== service.pid && !inBaseline(x, c))
  if (o.unit?.mainPid && o.unit.mainPid !== service.pid) parts.push(`MainPID ${service.pid} → ${o.unit.mainPid}`)
  else if (owner) parts.push(`new ${procLabel(owner)} on port ${input.port}`)
  else if (o.lookalikes?.length) parts.push(`runs again as pid ${o.lookalikes.join(', ')}`)
  parts.push('answers')
  return parts.join(', ')
}

async function waitFor(cond: () => boolean, ms: number, clock: ProcessDeps['clock']): Promise<boolean> {
  const until = clock.now() + ms
  while (!cond()) {
    if (clock.now() >= until) return false
    await clock.sleep(2)
  }
  return true
}

/** Finds the service's main process by --pid, --unit (MainPID) or --port (its LISTEN owner, never a client). */
async function findTarget(input: DrillInput, deps: DrillDeps, cmdTimeout: () => number): Promise<Found> {
  const {procs} = deps
  const guards: string[] = []
  let pid: number
  let owners: number[] = []
  if (input.pid !== null) {
    pid = input.pid
    if (input.port !== null && procs.get(pid) !== null) {
      // The port must be this process's: its listeners in its tree (it, below it, or above it).
      const l = await deps.ports.listeners(input.port)
      const below = new Set(procs.descendants([pid]))
      const tree = new Set([...below, ...procs.ancestors(pid).map((a) => a.pid)])
      const why = portNotOfPid(input.port, pid, l.pids.map((p) => ({pid: p, comm: procs.stat(p)?.comm ?? '?', inMainTree: tree.has(p)})), l.invisible)
      if (why) return {ok: false, status: 'UNKNOWN', reason: why}
      // Faulted with it: the owners below it (its forked workers), never one above it (a master that
      // holds the socket of the worker named by --pid: its replacing the worker is the recovery).
      owners = l.pids.filter((p) => p === pid || below.has(p))
    }
  } else if (input.unit !== null) {
    const r = await deps.units.show(input.unit, UNIT_PROPS, cmdTimeout())
    if (!r.ok) return {ok: false, status: 'UNKNOWN', reason: r.reason}
    const view = systemdView(r.props)
    if (view.state === 'not-found') return {ok: false, status: 'UNKNOWN', reason: `unit ${input.unit} not found`}
    guards.push(`systemd unit ${input.unit} (Restart=${r.props.Restart || '?'}${r.props.RestartUSec ? `, RestartSec=${r.props.RestartUSec}` : ''})`)
    // While it auto-restarts, systemd says MainPID=0: the service is not running.
    if (view.mainPid === null) return {ok: false, status: 'ALERT', reason: `unit ${input.unit} has no main process (${view.raw}): the service is not running`}
    pid = view.mainPid
    if (input.port !== null) {
      // The port must be this unit's: its listeners in the unit's cgroup (or the MainPID's tree).
      const l = await deps.ports.listeners(input.port)
      const tree = new Set(procs.descendants([pid]))
      const holders = l.pids.map((p) => ({pid: p, comm: procs.stat(p)?.comm ?? '?', cgroup: procs.cgroup2(p), inMainTree: tree.has(p)}))
      const why = portNotOfUnit(input.port, input.unit, view.cgroup ?? null, holders, l.invisible)
      if (why) return {ok: false, status: 'UNKNOWN', reason: why}
      owners = l.pids
    }
  } else {
    const l = await deps.ports.listeners(input.port!)
    if (l.pids.length === 0) {
      return l.invisible
        ? {ok: false, status: 'UNKNOWN', reason: `port ${input.port} is held by a process medic cannot see (not root?)`}
        : {ok: false, status: 'ALERT', reason: `nothing listens on port ${input.port}: the service is not running`}
    }
    // Several owners (a master and its forked workers share the socket): the topmost one.
    const all = new Set(l.pids)
    const tops = l.pids.filter((p) => !procs.ancestors(p).some((a) => all.has(a.pid)))
    if (tops.length !== 1) return {ok: false, status: 'UNKNOWN', reason: `port ${input.port} is held by unrelated processes ${tops.join(', ')}: name one with --pid`}
    pid = tops[0]
    owners = l.pids
  }
  const p = procs.get(pid)
  if (!p) return {ok: false, status: 'UNKNOWN', reason: `no process ${pid}`}
  const service: ProcId = {pid, startTime: p.startTime, comm: p.comm, cmdline: p.cmdline}
  const coOwners = owners.filter((o) => o !== pid).map((o) => procs.get(o)).filter((o) => o !== null).map((o) => ({pid: o.pid, startTime: o.startTime, comm: o.comm, cmdline: o.cmdline}))
  const sup = procs.ancestors(pid).find((a) => a.cmdline.includes('supervise') && a.cmdline.some((w) => /(^|\/)(medic|run\.js)$/.test(w)))
  if (sup) guards.push(`medic supervise pid ${sup.pid}`)
  let runner: ProcId | undefined
  if (input.kind === 'freeze') {
    const r = procs.descendants([pid]).filter((x) => x !== pid).map((x) => procs.get(x)).find((x) => x !== null && isRunnerCmdline(x.comm, x.cmdline))
    if (r) runner = {pid: r.pid, startTime: r.startTime, comm: r.comm, cmdline: r.cmdline}
  }
  return {ok: true, target: {service, runner, coOwners, guards}}
}

/** One look at the service: the faulted process, the port's owners, the unit, a probe. */
async function observeService(input: DrillInput, deps: DrillDeps, faulted: ProcId, service: ProcId, squatter: Squatter | null, limitAt: number, cmdTimeout: () => number): Promise<DrillObservation> {
  const {procs, clock} = deps
  const st = procs.stat(faulted.pid)
  const state: DrillObservation['faulted'] = !st || st.startTime !== faulted.startTime || st.state === 'Z' || st.state === 'X' ? 'gone' : isStopped(st.state) ? 'stopped' : 'running'
  const timeout = Math.round(Math.max(50, Math.min(input.probeTimeoutMs, limitAt - clock.now())))
  const [listeners, unit, probe] = await Promise.all([
    input.port !== null ? deps.ports.listeners(input.port) : Promise.resolve(null),
    input.unit !== null ? deps.units.show(input.unit, UNIT_PROPS, Math.min(cmdTimeout(), Math.max(100, timeout))) : Promise.resolve(null),
    input.url ? deps.prober.http(input.url, timeout, [200, 399]) : input.port !== null ? deps.prober.tcp('127.0.0.1', input.port, timeout) : Promise.resolve(null),
  ])
  const owners = listeners ? listeners.pids.map((pid) => {
    const s = procs.stat(pid)
    return {pid, startTime: s?.startTime ?? '?', comm: s?.comm ?? '?', state: s?.state ?? '?', squatter: squatter !== null && pid === squatter.pid}
  }) : null
  let u: DrillObservation['unit'] = null
  if (unit) {
    if (unit.ok) {
      const v = systemdView(unit.props)
      u = {state: v.state, raw: v.raw, mainPid: v.mainPid}
    } else u = {state: 'unknown', raw: `unknown (${unit.reason})`, mainPid: null}
  }
  let lookalikes: number[] | null = null
  if (input.port === null && input.unit === null && !input.url) {
    const want = service.cmdline.join('\0')
    lookalikes = procs.list().filter((pid) => {
      if (pid === service.pid) return false
      const p = procs.get(pid)
      return p !== null && p.cmdline.join('\0') === want && !isStopped(p.state) && p.state !== 'Z'
    })
  }
  return {faulted: state, probe: probe ? {ok: probe.ok, detail: probe.detail} : null, owners, invisibleOwner: listeners?.invisible ?? false, unit: u, lookalikes}
}
