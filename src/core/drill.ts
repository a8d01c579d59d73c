/**
 * `medic drill`: the plan of a fault, what undoes it, and the recovery judgement as a
 * step function of `now`. Pure: the ops layer observes and acts, this decides.
 *
 * A drill injects one real fault into a running service, waits for whatever protection
 * is installed (systemd Restart=, medic supervise, a health timer, ollama frozen-check)
 * to recover it, and proves the service answers again. Whatever happens, what the
 * drill did is undone: `restoreFor` computes it from the steps actually taken.
 */
import {splitArgv} from './argv.js'
import {formatMs} from './duration.js'
import type {ServiceState} from './manager-parse.js'
import {unitFileName} from './units.js'

export const DRILL_KINDS = ['kill', 'stop', 'squat', 'crash-loop', 'freeze'] as const
export type DrillKind = (typeof DRILL_KINDS)[number]

export interface ProcId {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
}

export function procLabel(p: Pick<ProcId, 'pid' | 'comm'>): string {
  return `pid ${p.pid} (${p.comm})`
}

/** What the drill knows about its target before it acts. */
export interface DrillFacts {
  kind: DrillKind
  /** The service's main process (the LISTEN owner, the unit's MainPID, or --pid). */
  service: ProcId
  /** `freeze`: the model runner under the server; otherwise unset (the fault hits `service`). */
  runner?: ProcId
  /**
   * The port's other LISTEN owners, all of the service (its forked workers sharing the socket:
   * a pre-fork server). `kill`, `squat` and `crash-loop` SIGKILL them too, after `service`: a
   * worker left holding the port would keep it answering with nothing restarted.
   */
  coOwners?: ProcId[]
  port: number | null
  url: string | null
  /** A systemd unit the drill may add a runtime drop-in to (crash-loop). */
  unit: string | null
  holdMs: number
}

export type DrillStep =
  /** A helper process that takes the port as soon as it is free and keeps it (accepts, never answers). */
  | {op: 'squatter'; port: number}
  /** Wait until that helper holds the port (the service's socket is gone). */
  | {op: 'await-squatter'; port: number}
  | {op: 'signal'; signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'; target: ProcId}
  | {op: 'kill-squatter'; port: number}
  | {op: 'drop-in'; unit: string; text: string}
  | {op: 'remove-drop-in'; unit: string}
  | {op: 'daemon-reload'}
  | {op: 'hold'; ms: number}

export interface DrillPlan {
  kind: DrillKind
  inject: DrillStep[]
  /** What has to be true, in words, for the drill to call the service recovered. */
  recoveredWhen: string
  /** How the crash of a crash-loop is caused. */
  crashVia?: 'drop-in' | 'port-holder'
}

export type PlanResult = {ok: true; plan: DrillPlan} | {ok: false; reason: string}

/** The drill that wrote a drop-in: its pid and start time (its identity), and its fault. */
export interface DropInOwner {
  kind: DrillKind
  pid: number
  startTime: string
}

/**
 * The unit's drop-in that makes every start fail, until the drill removes it. It names its
 * writer by identity (pid + start time): a copy left by a drill that is gone is told from a
 * running drill's, and removed only if it is byte for byte this text.
 */
export function crashDropIn(kind: DrillKind, selfPid: number, selfStart: string): string {
  return [
    `# Written by medic drill ${kind} (pid ${selfPid}, start ${selfStart}); it removes this file when the drill ends.`,
    '# Left behind? Its guard removes it when that medic is gone, else the next drill of this unit, or a reboot;',
    '# by hand: delete it and run systemctl daemon-reload.',
    '[Service]',
    'ExecStartPre=/bin/false',
    '',
  ].join('\n')
}

/** Who wrote this drop-in, if it is exactly what `crashDropIn` writes (and nothing else); null otherwise. */
export function dropInOwner(text: string): DropInOwner | null {
  const m = /^# Written by medic drill ([a-z-]+) \(pid (\d{1,10}), start (\d{1,20})\);/.exec(text)
  if (!m) return null
  const kind = DRILL_KINDS.find((k) => k === m[1])
  if (!kind) return null
  const owner = {kind, pid: Number(m[2]), startTime: m[3]}
  return crashDropIn(owner.kind, owner.pid, owner.startTime) === text ? owner : null
}

/**
 * The fault, step by step. `kill`: SIGKILL the main process (seed 004's exit 137).
 * `stop`: SIGSTOP it (the seeds' own "pkill -STOP" test). `squat`: a helper waits for
 * the port, the main process is SIGKILLed, and the helper takes the port before the
 * service restarts (the seed-000 orphan). `crash-loop`: every start fails for --hold —
 * a runtime drop-in `ExecStartPre=/bin/false` for a systemd unit (it never edits the
 * user's unit, and /run does not survive a reboot), else a helper holding the port so
 * the service dies with EADDRINUSE — then the cause is removed. `freeze`: SIGSTOP the
 * model runner under an Ollama server (API answering, inference stuck).
 */
export function planDrill(f: DrillFacts, self: {pid: number; startTime: string}): PlanResult {
  const kill = {op: 'signal', signal: 'SIGKILL', target: f.service} as const
  const kills = [kill, ...(f.coOwners ?? []).filter((p) => p.pid !== f.service.pid).map((target) => ({op: 'signal', signal: 'SIGKILL', target}) as const)]
  const answers = f.url ? `${f.url} answers` : f.port !== null ? `port ${f.port} accepts and its listener is running` : f.unit ? `unit ${f.unit} is active` : 'a process with the same command line runs'
  switch (f.kind) {
    case 'kill':
      return {ok: true, plan: {kind: f.kind, inject: kills, recoveredWhen: `a new process serves: ${answers}${f.unit ? ` and ${f.unit} is active with a new MainPID` : ''}`}}
    case 'stop':
      return {ok: true, plan: {kind: f.kind, inject: [{op: 'signal', signal: 'SIGSTOP', target: f.service}], recoveredWhen: `${procLabel(f.service)} is no longer stopped (killed or resumed) and ${answers}`}}
    case 'squat':
      if (f.port === null) return {ok: false, reason: 'squat needs the port to squat: give --port'}
      return {ok: true, plan: {kind: f.kind, inject: [{op: 'squatter', port: f.port}, ...kills, {op: 'await-squatter', port: f.port}], recoveredWhen: `the squatter no longer holds port ${f.port} and ${answers}`}}
    case 'crash-loop':
      if (f.unit) {
        return {ok: true, plan: {kind: f.kind, crashVia: 'drop-in', recoveredWhen: `after the cause is removed, ${answers}${f.port === null && !f.url ? '' : ` and ${f.unit} is active`} with a new MainPID`, inject: [
          {op: 'drop-in', unit: f.unit, text: crashDropIn(f.kind, self.pid, self.startTime)}, {op: 'daemon-reload'}, ...kills, {op: 'hold', ms: f.holdMs}, {op: 'remove-drop-in', unit: f.unit}, {op: 'daemon-reload'},
        ]}}
      }
      if (f.port === null) return {ok: false, reason: 'crash-loop needs --unit (a drop-in makes each start fail) or --port (the port is held so each start fails)'}
      return {ok: true, plan: {kind: f.kind, crashVia: 'port-holder', recoveredWhen: `after the cause is removed, a new process serves: ${answers}`, inject: [
        {op: 'squatter', port: f.port}, ...kills, {op: 'await-squatter', port: f.port}, {op: 'hold', ms: f.holdMs}, {op: 'kill-squatter', port: f.port},
      ]}}
    case 'freeze':
      if (!f.runner) return {ok: false, reason: `no model runner under ${procLabel(f.service)}: nothing to freeze (load a model first)`}
      return {ok: true, plan: {kind: f.kind, inject: [{op: 'signal', signal: 'SIGSTOP', target: f.runner}], recoveredWhen: `runner ${procLabel(f.runner)} is no longer stopped (killed or resumed) and ${answers}`}}
  }
}

/**
 * What must still be undone after these steps were taken (some perhaps only half):
 * SIGCONT for every SIGSTOP, the helper killed, the drop-in removed and systemd
 * reloaded — minus what the drill already undid itself, in reverse order.
 */
export function restoreFor(done: DrillStep[]): DrillStep[] {
  const out: DrillStep[] = []
  let squatters = 0
  const dropIns = new Map<string, number>()
  for (const s of done) {
    if (s.op === 'squatter') squatters++
    else if (s.op === 'kill-squatter') squatters = Math.max(0, squatters - 1)
    else if (s.op === 'drop-in') dropIns.set(s.unit, (dropIns.get(s.unit) ?? 0) + 1)
    else if (s.op === 'remove-drop-in') dropIns.set(s.unit, 0)
  }
  const stopped = done.filter((s): s is Extract<DrillStep, {op: 'signal'}> => s.op === 'signal' && s.signal === 'SIGSTOP')
  for (const s of [...stopped].reverse()) out.push({op: 'signal', signal: 'SIGCONT', target: s.target})
  const sq = [...done].reverse().find((s): s is Extract<DrillStep, {op: 'squatter'}> => s.op === 'squatter')
  if (squatters > 0 && sq) out.push({op: 'kill-squatter', port: sq.port})
  const units = [...dropIns].filter(([, n]) => n > 0).map(([u]) => u)
  for (const u of units) out.push({op: 'remove-drop-in', unit: u})
  if (units.length) out.push({op: 'daemon-reload'})
  return out
}

/** A few words per step, for a summary line. */
export function shortStep(s: DrillStep): string {
  switch (s.op) {
    case 'squatter': return `squat port ${s.port}`
    case 'await-squatter': return 'await the squatter'
    case 'signal': return `${s.signal} pid ${s.target.pid}`
    case 'kill-squatter': return 'kill squatter'
    case 'drop-in': return `drop-in on ${s.unit}`
    case 'remove-drop-in': return `remove drop-in`
    case 'daemon-reload': return 'daemon-reload'
    case 'hold': return `hold ${formatMs(s.ms)}`
  }
}

export function describeStep(s: DrillStep): string {
  switch (s.op) {
    case 'squatter': return `start a squatter that takes port ${s.port} as soon as it is free (accepts, never answers)`
    case 'await-squatter': return `wait until the squatter holds port ${s.port}`
    case 'signal': return `${s.signal} → ${procLabel(s.target)}`
    case 'kill-squatter': return `kill the squatter on port ${s.port}`
    case 'drop-in': return `add a runtime drop-in to ${s.unit}: ExecStartPre=/bin/false (every start fails)`
    case 'remove-drop-in': return `remove the drop-in from ${s.unit}`
    case 'daemon-reload': return 'systemctl daemon-reload'
    case 'hold': return `hold the fault for ${formatMs(s.ms)}`
  }
}

// ---------------------------------------------------------------------------
// --port and --unit must name the same service.

export interface PortHolder {
  pid: number
  comm: string
  /** Its cgroup (v2 path); null when unknown. */
  cgroup: string | null
  /** The unit's MainPID or one of its descendants. */
  inMainTree: boolean
}

/**
 * Why --port is not the --unit's (null: it is, or nothing listens — the baseline says so):
 * every LISTEN owner of the port must be in the unit's cgroup (or, that unknown, the
 * MainPID's process tree). A drill against unit A with the port of service B would judge
 * — and, squatting, act on — B.
 */
export function portNotOfUnit(port: number, unit: string, unitCgroup: string | null, holders: PortHolder[], invisible: boolean): string | null {
  if (holders.length === 0) return invisible ? `--port ${port} is held by a process medic cannot see: cannot tell it belongs to unit ${unit}` : null
  const inUnit = (h: PortHolder) => h.inMainTree || (unitCgroup !== null && unitCgroup !== '' && h.cgroup !== null && (h.cgroup === unitCgroup || h.cgroup.startsWith(`${unitCgroup}/`)))
  const outside = holders.filter((h) => !inUnit(h))
  if (outside.length === 0) return null
  const where = (h: PortHolder) => `${procLabel(h)} is in ${h.cgroup ?? 'an unknown cgroup'}`
  return `--port ${port} does not belong to unit ${unit}: its listener ${outside.map(where).join(', ')}`
}

/**
 * The same for --pid: every LISTEN owner of the port must be in the process's tree (the
 * process, a descendant, or an ancestor — a master that holds the socket of its worker).
 */
export function portNotOfPid(port: number, pid: number, holders: Omit<PortHolder, 'cgroup'>[], invisible: boolean): string | null {
  if (holders.length === 0) return invisible ? `--port ${port} is held by a process medic cannot see: cannot tell it belongs to pid ${pid}` : null
  const outside = holders.filter((h) => !h.inMainTree)
  if (outside.length === 0) return null
  return `--port ${port} does not belong to pid ${pid}: its listener ${outside.map(procLabel).join(', ')} is outside its process tree`
}

// ---------------------------------------------------------------------------
// What medic install put in place for this service (its manifests), in words.

export interface InstalledFact {
  /** The install's name (`health-gateway`). */
  name: string
  service: string | null
  timer: string | null
  /** The unit its drop-in hardens (ExecStartPre=medic cleanup …). */
  hardened: string | null
  /** The medic command line it runs, without `medic`. */
  command: string[] | null
  everyMs: number | null
}

function flagValue(argv: string[], flag: string): string | null {
  const {words} = splitArgv(argv)
  for (let i = 0; i < words.length; i++) {
    if (words[i] === flag) return words[i + 1] ?? null
    if (words[i].startsWith(`${flag}=`)) return words[i].slice(flag.length + 1)
  }
  return null
}

/**
 * The installs that watch this service — same --port, same --unit, or a hardening drop-in
 * on the unit — named for the verdict: `medic-health-gateway.timer (health every 2s)`.
 */
export function installedGuards(installs: InstalledFact[], port: number | null, unit: string | null): string[] {
  const out: string[] = []
  for (const i of installs) {
    const cmd = i.command ?? []
    if (cmd[0] === 'drill') continue
    const p = flagValue(cmd, '--port') ?? flagValue(cmd, '-p')
    const u = flagValue(cmd, '--unit')
    const samePort = port !== null && p === String(port)
    const sameUnit = unit !== null && u !== null && unitFileName(u) === unitFileName(unit)
    const hardens = unit !== null && i.hardened !== null && unitFileName(i.hardened) === unitFileName(unit)
    if (!samePort && !sameUnit && !hardens) continue
    const what = cmd.length ? cmd.slice(0, cmd[1] && !cmd[1].startsWith('-') ? 2 : 1).join(' ') : 'medic'
    if (i.timer) out.push(`${i.timer} (${what} every ${formatMs(i.everyMs ?? 0)})`)
    else if (i.service) out.push(`${i.service} (${what})`)
    if (hardens) out.push(`${i.name}'s drop-in on ${unitFileName(unit!)} (ExecStartPre=medic cleanup)`)
  }
  return out
}

// ---------------------------------------------------------------------------
// Recovery: observations in, a judgement out.

export interface OwnerObs {
  pid: number
  /** With pid, its identity: an owner of the baseline is told from a new one. */
  startTime: string
  comm: string
  state: string
  /** It is the drill's own squatter. */
  squatter: boolean
}

export interface DrillObservation {
  /** The process the fault hit, by identity. `kill` and `squat`: gone, by construction. */
  faulted: 'running' | 'stopped' | 'gone'
  /** HTTP probe of --url, else a TCP connect to --port; null when neither was given. */
  probe: {ok: boolean; detail: string} | null
  /** LISTEN owners of --port; null when no port was given. */
  owners: OwnerObs[] | null
  /** A listening socket whose owner medic cannot see. */
  invisibleOwner: boolean
  unit: {state: ServiceState; raw: string; mainPid: number | null} | null
  /** Running processes (not stopped) with the target's command line but a new identity; null when not looked for. */
  lookalikes: number[] | null
}

export interface RecoveryCriteria {
  kind: DrillKind
  /** The main process before the drill: a recovered `kill` is served by another. */
  originalPid: number
  hasUnit: boolean
  /**
   * The port's LISTEN owners before the fault, by identity (pid + start time). After a
   * `kill`, `squat` or `crash-loop` one owner at least must be new: one that was there before
   * (a forked worker sharing the socket, another service) proves nothing restarted.
   */
  baselineOwners?: Pick<ProcId, 'pid' | 'startTime'>[]
}

/** Was this owner on the port before the fault (same pid, same start time)? */
export function inBaseline(o: Pick<OwnerObs, 'pid' | 'startTime'>, c: RecoveryCriteria): boolean {
  return (c.baselineOwners ?? []).some((b) => b.pid === o.pid && b.startTime === o.startTime)
}

export function isStopped(state: string): boolean {
  return state === 'T' || state === 't'
}

/**
 * Is the service back? `before` is the baseline taken before the fault (it must answer,
 * but need not be a new process). Returns what is still missing, or null.
 */
export function missing(o: DrillObservation, c: RecoveryCriteria, phase: 'before' | 'after'): string | null {
  const after = phase === 'after'
  const who = c.kind === 'freeze' ? 'the runner' : `pid ${c.originalPid}`
  if (!after && o.faulted !== 'running') return `${who} is ${o.faulted} already`
  if (after && (c.kind === 'stop' || c.kind === 'freeze') && o.faulted === 'stopped') return `${who} is still stopped`
  if (after && c.kind !== 'stop' && c.kind !== 'freeze' && o.faulted !== 'gone') return `${who} survived SIGKILL (${o.faulted})`
  if (o.owners?.some((x) => x.squatter)) return 'the squatter still holds the port'
  if (o.unit) {
    if (o.unit.state !== 'active') return `the unit is ${o.unit.raw}`
    if (o.unit.mainPid === null) return 'the unit has no main process'
    if (after && (c.kind === 'kill' || c.kind === 'squat' || c.kind === 'crash-loop') && o.unit.mainPid === c.originalPid) return `the unit's MainPID is still ${c.originalPid}`
  }
  if (o.owners) {
    if (o.owners.length === 0) return o.invisibleOwner ? 'the port is held by a process medic cannot see' : 'nothing listens on the port'
    const stopped = o.owners.filter((x) => isStopped(x.state))
    if (stopped.length) return `the port's listener ${stopped.map(procLabel).join(', ')} is stopped`
    if (after && (c.kind === 'kill' || c.kind === 'squat' || c.kind === 'crash-loop') && o.owners.every((x) => inBaseline(x, c))) {
      return `no new process holds the port: ${o.owners.map(procLabel).join(', ')} held it before the fault and survived`
    }
  }
  if (o.probe && !o.probe.ok) return `no answer: ${o.probe.detail}`
  // --pid alone: the service is known only by its command line. Resumed counts; killed
  // counts once another process with the same command line runs.
  if (after && !o.owners && !o.unit && !o.probe && o.faulted !== 'running' && !o.lookalikes?.length) return 'no process with its command line runs'
  return null
}

export interface RecoveryState {
  /** Monotonic time of the fault (the first signal). */
  injectedAt: number
  /** The judgement ends here: injection + --within, or earlier for --timeout. */
  deadline: number
  deadlineWhy: string
  confirm: number
  streak: number
  /** When the current streak of good observations began. */
  streakAt: number | null
  observations: number
  lastMissing: string | null
}

export type RecoveryStep =
  | {done: false; state: RecoveryState}
  | {done: true; ok: true; state: RecoveryState; recoveredInMs: number}
  | {done: true; ok: false; state: RecoveryState; reason: string}

export function startRecovery(injectedAt: number, withinMs: number, confirm: number, timeoutAt: number | null): RecoveryState {
  const within = injectedAt + withinMs
  const early = timeoutAt !== null && timeoutAt < within
  return {injectedAt, deadline: early ? timeoutAt : within, deadlineWhy: early ? 'before --timeout' : `within ${formatMs(withinMs)}`, confirm, streak: 0, streakAt: null, observations: 0, lastMissing: 'not observed yet'}
}

/**
 * One observation. `confirm` good observations in a row → recovered, timed from the
 * injection to the first of them. The deadline passing first → not recovered, saying
 * what was still missing.
 */
export function stepRecovery(s: RecoveryState, o: DrillObservation, c: RecoveryCriteria, now: number): RecoveryStep {
  const gap = missing(o, c, 'after')
  const streak = gap === null ? s.streak + 1 : 0
  const state: RecoveryState = {...s, observations: s.observations + 1, streak, streakAt: gap === null ? (s.streakAt ?? now) : null, lastMissing: gap}
  if (streak >= s.confirm) return {done: true, ok: true, state, recoveredInMs: Math.max(0, state.streakAt! - s.injectedAt)}
  if (now >= s.deadline) return {done: true, ok: false, state, reason: gap ?? `answered but not ${s.confirm} times in a row`}
  return {done: false, state}
}

/** The observation in words, for an ALERT: the unit's state, who holds the port, the faulted process. */
export function describeObservation(o: DrillObservation, c: RecoveryCriteria): string {
  const parts: string[] = []
  if (o.unit) parts.push(`unit ${o.unit.raw}, MainPID ${o.unit.mainPid ?? 0}`)
  if (o.owners) {
    parts.push(o.owners.length === 0 ? (o.invisibleOwner ? 'port held by an invisible process' : 'port free')
      : `port held by ${o.owners.map((x) => `${procLabel(x)}${x.squatter ? ' = the squatter' : ''}${isStopped(x.state) ? ', stopped' : ''}${c.kind !== 'stop' && c.kind !== 'freeze' && x.pid !== c.originalPid && inBaseline(x, c) ? ', there before the fault' : ''}`).join(', ')}`)
  }
  if ((c.kind === 'stop' || c.kind === 'freeze') && o.faulted !== 'gone') parts.push(`${c.kind === 'freeze' ? 'runner' : `pid ${c.originalPid}`} ${o.faulted}`)
  if (o.probe && !o.owners) parts.push(o.probe.ok ? 'answers' : `probe: ${o.probe.detail}`)
  if (o.lookalikes) parts.push(o.lookalikes.length ? `running again as pid ${o.lookalikes.join(', ')}` : 'no process with its command line')
  return parts.join('; ')
}
