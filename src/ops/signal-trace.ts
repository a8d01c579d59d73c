import {explain, isSignalEvent, parseOomLines, parseStraceLine, parseTraceLine, SIGNALS, type Ending, type Explanation, type GuardAction, type ObservedSignal, type OwnCgroup, type SenderInfo} from '../core/trace.js'
import type {Clock} from '../sys/clock.js'
import type {SignalGate} from '../sys/signal-gate.js'
import {HUB_SIGNALS, type SignalHub} from '../sys/signal-hub.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {formatMs} from '../core/duration.js'
import type {Progress} from '../deps.js'
import type {Child} from '../sys/spawn-job.js'
import type {StraceOutput, TraceLines, Tracer} from '../sys/tracer.js'

export type Backend = 'tracefs' | 'strace'

export interface TraceOptions {
  /** Start a job (command mode): given the argv prefix the backend needs (strace …), return the child. */
  spawnJob?: (prefix: string[]) => Child
  /** Attach mode. */
  pid?: number
  durationMs: number | null
  followChildren: boolean
  backend: 'auto' | Backend
  procs: ProcessTable
  clock: Clock
  /** Ctrl+C and SIGTERM to medic (forwarded to the job when handleSignals). */
  signals: SignalHub
  /** tracefs, strace, memory cgroups' OOM counters, the kernel log. */
  tracer: Tracer
  /** The signal gate: the Ctrl+C forwarded to the job and the end of strace go through a scope of it. */
  gate: SignalGate
  progress: Progress
  /** Forward Ctrl+C / SIGTERM to the job (kill-trace); a wrapper that forwards them itself says false. */
  handleSignals?: boolean
  /** Called once the job's pid is known (the real job, not strace). */
  onStart?: (pid: number) => void
  /** The memory cgroup made for the job (run-dev-safe --memory-max, medic isolate): an OOM kill there is "in its own cgroup". */
  jobCgroup?: {path: string; limit: number; oomEvents: string | null} | null
  /** medic guard's action records since a moment (wall ms), so its kills are explained by its own reason. */
  guardActions?: (sinceMs: number) => GuardAction[]
}

export interface TraceResult {
  backend: Backend | null
  /** Why tracing could not happen at all (UNKNOWN). */
  failed: string | null
  limitations: string[]
  ending: Ending
  rootPid: number | null
  targets: Set<number>
  signals: ObservedSignal[]
  explanation: Explanation
  oomCounterDelta: number | null
  killers: string[]
  durationMs: number
  /** The signal medic itself received (Ctrl+C, `timeout`'s SIGTERM) and passed on to the job: the user ended it. */
  interruptedBy?: NodeJS.Signals | null
}

const POLL_MS = 20

function ttyName(nr: number): string | null {
  if (!nr) return null
  const major = (nr >> 8) & 0xfff
  const minor = (nr & 0xff) | ((nr >> 12) & 0xfff00)
  if (major === 136) return `pts/${minor}`
  if (major === 4) return `tty${minor}`
  return `tty ${major}:${minor}`
}

/** Who sent it, read at once — a `kill` process lives for a millisecond. */
export function readSender(pid: number, procs: ProcessTable, fallbackComm: string): SenderInfo {
  const p = procs.get(pid)
  if (!p) return {pid, comm: fallbackComm, uid: null, user: null, cmdline: null, chain: [], tty: null}
  return {pid, comm: p.comm, uid: p.uid, user: procs.userName(p.uid), cmdline: p.cmdline, chain: procs.ancestors(pid).slice(0, 6).map((a) => `${a.pid} ${a.comm}`), tty: ttyName(p.ttyNr)}
}

function userspaceKillers(procs: ProcessTable): string[] {
  const names = new Set(['earlyoom', 'systemd-oomd', 'nohang', 'oomd'])
  const found = new Set<string>()
  for (const pid of procs.list()) {
    const s = procs.stat(pid)
    if (s && names.has(s.comm)) found.add(s.comm)
  }
  return [...found]
}

/**
 * Runs (or attaches to) a process and records every signal generated for it and its
 * descendants, with the sender read at event time. tracefs first; strace when tracefs
 * cannot be had — strace sees senders of catchable signals only, never of SIGKILL.
 */
export async function traceSignals(o: TraceOptions): Promise<TraceResult> {
  const {clock, tracer} = o
  const t0 = clock.now()
  const limitations: string[] = []
  let tracefs: TraceLines | null = null
  let backend: Backend | null = null
  if (o.backend !== 'strace') {
    const r = tracer.tracefs()
    if (r.ok) {
      tracefs = r.session
      backend = 'tracefs'
    } else {
      limitations.push(`tracefs unavailable: ${r.reason}`)
      if (o.backend === 'tracefs') return failed(r.reason)
    }
  }
  let strace: StraceOutput | null = null
  if (!backend) {
    if (!tracer.straceInstalled()) return failed(`${limitations.join('; ')}; strace is not installed either`)
    backend = 'strace'
    strace = tracer.straceOutput()
    limitations.push('strace sees who sent catchable signals (si_pid), but never the sender of a SIGKILL, nor signals to processes it is not tracing')
  }

  function failed(why: string): TraceResult {
    return {backend: null, failed: why, limitations, ending: {kind: 'running'}, rootPid: null, targets: new Set(), signals: [], explanation: {fatal: null, headline: '', causes: [], counts: []}, oomCounterDelta: null, killers: [], durationMs: clock.now() - t0}
  }

  const scope = o.gate.scope()
  let child: Child | null = null
  let rootPid: number
  let childEnd: Ending | null = null
  let stracePid: number | null = null
  if (o.spawnJob) {
    const prefix = strace ? tracer.stracePrefix(o.followChildren, strace.path) : []
    child = o.spawnJob(prefix)
    if (child.pid) scope.adopt(child.pid)
    if (!child.pid) {
      tracefs?.close()
      strace?.remove()
      return failed(`could not start the command`)
    }
    child.once('exit', (code, signal) => {
      childEnd = signal ? {kind: 'signaled', signal: Number(Object.entries(SIGNALS).find(([, n]) => n === signal)?.[0] ?? 0)} : {kind: 'exited', code: code ?? 0}
    })
    rootPid = child.pid
    if (backend === 'strace') {
      // The job is strace's child: find it.
      stracePid = child.pid
      for (let i = 0; i < 250 && rootPid === stracePid; i++) {
        await clock.sleep(4)
        const kid = o.procs.list().find((p) => o.procs.stat(p)?.ppid === stracePid)
        if (kid) rootPid = kid
        if (childEnd) break
      }
    }
  } else {
    rootPid = o.pid!
    if (strace) {
      const s = tracer.straceAttach(rootPid, o.followChildren, strace.path)
      stracePid = s.pid ?? null
      if (stracePid) scope.adopt(stracePid)
      s.once('exit', () => (childEnd ??= {kind: 'vanished'}))
    }
  }

  const targets = new Set<number>([rootPid])
  const startStat = o.procs.stat(rootPid)
  // The job's own memory cgroup: the one made for it, else the target's when it is not the tracer's own.
  let own: OwnCgroup | null = o.jobCgroup ? {path: o.jobCgroup.path, limit: o.jobCgroup.limit} : null
  let counterFile = o.jobCgroup?.oomEvents ?? null
  const mine = o.jobCgroup ? null : tracer.memoryCgroup('self')
  if (!o.jobCgroup) {
    const target = tracer.memoryCgroup(rootPid)
    counterFile = target?.counter ?? null
    if (target && target.path !== '/' && target.path !== mine?.path) own = {path: target.path, limit: target.limit}
  }
  const wallStart = clock.wall().getTime()
  const oomBefore = tracer.oomKills(counterFile)
  if (o.followChildren) for (const pid of o.procs.descendants([rootPid])) targets.add(pid)
  const signals: ObservedSignal[] = []
  // A sender that has exited by the time a later signal is read keeps what was read of it earlier.
  const senders = new Map<number, SenderInfo>()
  const sender = (pid: number, comm: string): SenderInfo => {
    const now = readSender(pid, o.procs, comm)
    if (now.cmdline?.length) senders.set(pid, now)
    return now.cmdline?.length ? now : (senders.get(pid) ?? now)
  }
  const drain = () => {
    if (tracefs) {
      for (const line of tracefs.read()) {
        const e = parseTraceLine(line)
        if (!e) continue
        if (!isSignalEvent(e)) {
          if (o.followChildren && targets.has(e.parentPid)) targets.add(e.childPid)
          continue
        }
        if (!targets.has(e.targetPid)) continue
        // Seconds since the trace began, as the strace path counts them (the kernel's stamp is since boot).
        signals.push({...e, ts: tracefs.monotonic ? e.ts - t0 / 1000 : (clock.now() - t0) / 1000, sender: sender(e.senderPid, e.senderComm)})
        o.progress(`${SIGNALS[e.sig] ?? e.sig} → pid ${e.targetPid} from pid ${e.senderPid} (${e.senderComm})`)
      }
    } else if (strace) {
      for (const line of strace.read()) {
        const e = parseStraceLine(line)
        if (!e) continue
        targets.add(e.pid)
        if (e.kind === 'signal' && e.sig !== 17) {
          const who = e.senderPid ? sender(e.senderPid, '?') : {pid: 0, comm: 'the kernel', uid: null, user: null, cmdline: null, chain: [], tty: null}
          signals.push({ts: (clock.now() - t0) / 1000, senderPid: e.senderPid ?? 0, senderComm: who.comm, sig: e.sig!, code: e.code === 'SI_KERNEL' ? 128 : e.code === 'SI_USER' ? 0 : e.code === 'SI_TKILL' ? -6 : 1, targetPid: e.pid, targetComm: '', result: 0, sender: who})
        }
        if (e.kind === 'killed' && e.pid === rootPid && e.sig === 9) limitations.push(`pid ${e.pid} was killed by SIGKILL: strace cannot see who sent it`)
      }
    }
  }

  const stopAt = o.durationMs === null ? null : clock.now() + o.durationMs
  let interrupted = false
  let interruptedBy: NodeJS.Signals | null = null
  // The same signal medic received goes on to the job (Ctrl+C as SIGINT, `timeout` as SIGTERM,
  // a closed terminal as SIGHUP),
  // to its process group, member by member through the gate (the job is ours).
  const onInt = (sig: NodeJS.Signals) => {
    interrupted = true
    interruptedBy ??= sig
    if (child?.pid) scope.signalAll(sig, {group: true})
  }
  const off = o.handleSignals !== false ? o.signals.subscribe(onInt, HUB_SIGNALS) : () => {}
  o.onStart?.(rootPid)
  // A job started here writes to the same terminal, bypassing medic: one line, no spinner.
  const step = o.progress.step
  step?.(o.spawnJob
    ? `tracing pid ${rootPid} (${startStat?.comm ?? 'the job'}) and its children until it ends; Ctrl+C is passed on to it`
    : `tracing pid ${rootPid} (${startStat?.comm ?? '?'}) ${stopAt === null ? 'until it ends' : `for ${formatMs(o.durationMs!)}`}; Ctrl+C stops the trace`, {live: !o.spawnJob})
  try {
    for (;;) {
      drain()
      if (childEnd) break
      if (!o.spawnJob) {
        const live = o.procs.liveness(rootPid, startStat?.startTime ?? '')
        if (live !== 'alive') {
          childEnd = {kind: 'vanished'}
          break
        }
      }
      if (stopAt !== null && clock.now() >= stopAt) break
      if (interrupted && !o.spawnJob) break
      await clock.sleep(POLL_MS)
    }
    await clock.sleep(POLL_MS)
    drain()
  } finally {
    step?.()
    off()
    tracefs?.close()
    if (stracePid && !o.spawnJob) {
      const st = o.procs.stat(stracePid)
      if (st) scope.send(stracePid, st.startTime, 'SIGTERM')
    }
  }
  strace?.remove()
  const ending: Ending = childEnd ?? {kind: 'running'}
  // In strace mode the job's fate is mirrored by strace; a SIGKILL of the job shows as strace's.
  const oomAfter = tracer.oomKills(counterFile)
  const oomCounterDelta = oomBefore !== null && oomAfter !== null ? oomAfter - oomBefore : null
  let kernelLog = ending.kind === 'running' ? '' : tracer.kernelLog()
  // The kernel prints "Killed process N" after it sends the SIGKILL: a job reaped at once may end before the line is written.
  const killedBy9 = (ending.kind === 'signaled' && ending.signal === 9) || ending.kind === 'vanished'
  const killedLine = (t: string) => parseOomLines(t).some((x) => targets.has(x.pid) && x.line.includes('Killed process'))
  const sawOom = (t: string) => parseOomLines(t).some((x) => targets.has(x.pid))
  for (let i = 0; i < 10 && killedBy9 && sawOom(kernelLog) && !killedLine(kernelLog); i++) {
    await clock.sleep(50)
    kernelLog = tracer.kernelLog()
  }
  const killers = userspaceKillers(o.procs)
  const guard = ending.kind === 'running' ? [] : (o.guardActions?.(wallStart - 1000) ?? [])
  const ooms = parseOomLines(kernelLog)
  // The kernel's own line names the cgroup whose limit was hit: that decides "its own cgroup", not
  // where the target was when the trace began (a job may enter its cgroup after it starts).
  const hitCg = o.jobCgroup ? undefined : ooms.find((x) => targets.has(x.pid) && x.memcg)?.memcg
  if (hitCg !== undefined) own = hitCg !== '/' && !(mine && (mine.path === hitCg || mine.path.startsWith(`${hitCg}/`))) ? {path: hitCg, limit: tracer.memoryLimit(hitCg)} : null
  const explanation = explain(ending, signals, ooms, targets, {oomCounter: oomCounterDelta, killers, ownCgroup: own, guard})
  return {backend, failed: null, limitations, ending, rootPid, targets, signals, explanation, oomCounterDelta, killers, durationMs: clock.now() - t0, interruptedBy}
}
