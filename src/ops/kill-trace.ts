import {SIGNALS, type GuardAction} from '../core/trace.js'
import type {Check, Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import type {SignalGate} from '../sys/signal-gate.js'
import type {SignalHub} from '../sys/signal-hub.js'
import type {ProcessTable} from '../sys/proc-table.js'
import type {Spawner} from '../sys/spawn-job.js'
import type {Tracer} from '../sys/tracer.js'
import {traceSignals, type TraceResult} from './signal-trace.js'

export interface KillTraceInput {
  command: string[] | null
  pid: number | null
  durationMs: number | null
  followChildren: boolean
  backend: 'auto' | 'tracefs' | 'strace'
}

/** The trace as checks and JSON: every signal with its sender, the counts, the causes. */
export function traceReport(r: TraceResult): {checks: Check[]; details: string[]; extra: Record<string, unknown>} {
  const e = r.explanation
  const checks: Check[] = [
    {name: 'tracer', status: 'OK', detail: `${r.backend}${r.limitations.length ? ` (${r.limitations.join('; ')})` : ''}`},
    {name: 'ending', status: r.ending.kind === 'signaled' || r.ending.kind === 'vanished' ? 'ALERT' : 'OK', detail: e.headline},
    {name: 'signals', status: 'OK', detail: e.counts.length ? e.counts.map((c) => `${c.signal} ×${c.count} from ${c.sender}`).join('; ') : 'no signal was sent to the target or its descendants'},
    {name: 'causes', status: e.causes.length ? 'ALERT' : 'OK', detail: e.causes.join('; ') || 'no known cause matched'},
    {name: 'oom evidence', status: 'OK', detail: `cgroup oom_kill counter change: ${r.oomCounterDelta ?? 'unknown'}; userspace OOM killers running: ${r.killers.join(', ') || 'none'}`},
  ]
  const details = r.signals.map((s) => `${SIGNALS[s.sig] ?? s.sig} → pid ${s.targetPid} at +${s.ts.toFixed(3)}s from pid ${s.senderPid} (${s.senderComm}${s.sender.user ? `, user ${s.sender.user}` : ''})${s.sender.cmdline ? `: ${s.sender.cmdline.join(' ')}` : ' (exited before it could be read)'}${s.sender.chain.length ? ` ← ${s.sender.chain.join(' ← ')}` : ''}${s.sender.tty ? ` [${s.sender.tty}]` : ''}`)
  const extra = {
    backend: r.backend, limitations: r.limitations, ending: r.ending, rootPid: r.rootPid, targets: [...r.targets],
    signals: r.signals.map((s) => ({signal: SIGNALS[s.sig] ?? s.sig, targetPid: s.targetPid, code: s.code, sender: s.sender})),
    counts: e.counts, causes: e.causes, fatalSender: e.fatal?.sender ?? null,
  }
  return {checks, details, extra}
}

export interface TraceDeps {
  procs: ProcessTable
  gate: SignalGate
  clock: Clock
  signals: SignalHub
  tracer: Tracer
  spawner: Pick<Spawner, 'job'>
  progress: (l: string) => void
  /** medic guard's action records since a moment (wall ms), so its kills are explained by its own reason. */
  guardActions?: (sinceMs: number) => GuardAction[]
}

/** `medic kill-trace`: name who sent the signals, explain how the target ended. */
export async function killTrace(input: KillTraceInput, deps: TraceDeps): Promise<{verdict: Verdict; exit: number | null}> {
  if (input.pid !== null && !deps.procs.stat(input.pid)) {
    return {verdict: {subject: 'TRACE', status: 'UNKNOWN', summary: `no process ${input.pid}`, checks: [], actions: []}, exit: null}
  }
  const r = await traceSignals({
    // Its own process group, output to our stderr: stdout stays the verdict.
    ...(input.command ? {spawnJob: (prefix: string[]) => deps.spawner.job({argv: [...prefix, ...input.command!], stdio: ['inherit', 2, 2]})} : {pid: input.pid!}),
    durationMs: input.durationMs, followChildren: input.followChildren, backend: input.backend, procs: deps.procs, clock: deps.clock, signals: deps.signals, tracer: deps.tracer, gate: deps.gate, progress: deps.progress, guardActions: deps.guardActions,
  })
  if (r.failed) return {verdict: {subject: 'TRACE', status: 'UNKNOWN', summary: `could not trace: ${r.failed}`, checks: [], actions: []}, exit: null}
  const {checks, details, extra} = traceReport(r)
  const e = r.explanation
  const killed = r.ending.kind === 'signaled' || r.ending.kind === 'vanished'
  // The guard named as the sender: its reason follows, without saying "medic guard" twice.
  const byGuard = e.headline.includes('; sent by medic guard (') && e.causes[0]?.startsWith('medic guard, ')
  const cause = e.causes[0] ? (byGuard ? ` — ${e.causes[0].slice('medic guard, '.length)}` : `; ${e.causes[0]}`) : ''
  // The job's own status (a shell's 128+N for a signal), interrupted or not.
  const jobExit = r.ending.kind === 'exited' ? (r.ending.code ?? 0) : r.ending.kind === 'signaled' ? 128 + (r.ending.signal ?? 0) : null
  // medic's own forwarding of the user's Ctrl+C (or timeout's SIGTERM) is not a killer to name.
  if (r.interruptedBy) {
    const how = r.ending.kind === 'exited' ? `exited with code ${r.ending.code}` : r.ending.kind === 'signaled' ? `ended by ${SIGNALS[r.ending.signal ?? 0] ?? r.ending.signal}` : r.ending.kind === 'running' ? 'still running' : 'gone'
    const what = r.interruptedBy === 'SIGINT' ? 'Ctrl+C' : r.interruptedBy
    const summary = `interrupted by the user: medic received ${r.interruptedBy}${what !== r.interruptedBy ? ` (${what})` : ''} and passed it on; pid ${r.rootPid} ${how}; the trace is incomplete`
    return {verdict: {subject: 'TRACE', status: 'UNKNOWN', summary, checks, actions: [], details, extra: {...extra, interruptedBy: r.interruptedBy}}, exit: jobExit}
  }
  const summary = r.ending.kind === 'running'
    ? `pid ${r.rootPid} still running after the trace; ${e.counts.length ? `${e.counts.reduce((n, c) => n + c.count, 0)} signal(s), none fatal` : 'no signal received'}`
    : killed ? `${e.headline}${cause}` : `${e.headline}`
  return {verdict: {subject: 'TRACE', status: killed ? 'ALERT' : 'OK', summary, checks, actions: [], details, extra}, exit: jobExit}
}
