import {abandonKill, isFinal, markTarget, planKill, stepKill, type KillPlan, type KillTarget} from '../core/kill-plan.js'
import {formatMs} from '../core/duration.js'
import type {Action} from '../core/verdict.js'
import type {Sent} from '../sys/signal-gate.js'
import type {ProcessDeps} from '../deps.js'

export interface TerminateOptions {
  graceMs: number
  killWaitMs: number
  /** Monotonic deadline of the whole command, or null. */
  deadlineAt: number | null
  /** Monotonic time the command started; action times are relative to it. */
  t0: number
  /** Sends through a JobScope of the gate (the caller's own job) instead of the gate itself. */
  via?: (pid: number, startTime: string, signal: NodeJS.Signals) => Sent
}

/** Liveness is polled this often: fine enough that a polite holder is seen gone within a few ms. */
const POLL_MS = 2

/**
 * The ops loop around the pure kill plan: observe liveness by identity, step, send, sleep.
 * Every signal and every exit becomes an Action with its time.
 */
export async function terminate(targets: KillTarget[], opts: TerminateOptions, deps: ProcessDeps): Promise<{plan: KillPlan; actions: Action[]}> {
  const {clock, procs, gate} = deps
  const send = opts.via ?? ((pid: number, startTime: string, signal: NodeJS.Signals) => gate.send(pid, startTime, signal))
  const actions: Action[] = []
  const at = () => Math.round(clock.now() - opts.t0)
  let plan = planKill(targets, clock.now(), opts.graceMs, opts.killWaitMs)
  const alive = (pid: number) => {
    const t = plan.targets.find((x) => x.target.pid === pid)!.target
    return procs.liveness(pid, t.startTime) === 'alive'
  }
  // The wait a person sees at a terminal: who still has to exit, after which signal.
  let shown = ''
  const waiting = () => {
    const term = plan.targets.filter((t) => t.phase === 'terminating').map((t) => t.target.label)
    const kill = plan.targets.filter((t) => t.phase === 'killing').map((t) => t.target.label)
    const title = [
      ...(term.length ? [`waiting for ${term.join(', ')} to exit after SIGTERM (SIGKILL at ${formatMs(opts.graceMs)})`] : []),
      ...(kill.length ? [`waiting for ${kill.join(', ')} to exit after SIGKILL`] : []),
    ].join('; ')
    if (title !== shown) deps.progress.step?.(title || undefined)
    shown = title
  }
  const done = () => {
    if (shown) deps.progress.step?.()
    return {plan, actions}
  }
  for (;;) {
    const now = clock.now()
    const before = new Map(plan.targets.map((t) => [t.target.pid, t.phase]))
    const step = stepKill(plan, alive, now)
    plan = step.plan
    for (const t of plan.targets) {
      if (before.get(t.target.pid) !== t.phase && (t.phase === 'gone' || t.phase === 'survived')) {
        actions.push({action: 'exit', target: t.target.label, result: t.reason ?? t.phase, ms: at()})
        deps.progress(`${t.target.label}: ${t.reason ?? t.phase}`)
      }
    }
    for (const order of step.signals) {
      const {result, reason} = send(order.target.pid, order.target.startTime, order.signal)
      // SIGCONT only matters when it could not be delivered; its `sent` is noise.
      if (order.signal !== 'SIGCONT' || result === 'denied' || result === 'refused') {
        const text = result === 'refused' ? `refused: ${reason}` : result
        actions.push({action: order.signal, target: order.target.label, result: text, ms: at()})
        deps.progress(`${order.signal} → ${order.target.label}: ${text}`)
        deps.log.line(`${order.signal} ${order.target.label}: ${text}`)
      }
      if (result === 'denied') plan = markTarget(plan, order.target.pid, 'denied', 'permission denied (EPERM)', clock.now())
      else if (result === 'refused') plan = markTarget(plan, order.target.pid, 'denied', `refused: ${reason}`, clock.now())
      else if (result === 'reused') plan = markTarget(plan, order.target.pid, 'gone', 'pid reused by another process; not signalled', clock.now())
    }
    if (plan.targets.every(isFinal)) return done()
    const later = clock.now()
    if (opts.deadlineAt !== null && later >= opts.deadlineAt) {
      plan = abandonKill(plan, later, 'still alive when --timeout expired')
      return done()
    }
    waiting()
    const wake = Math.min(step.wakeAt ?? later + POLL_MS, later + POLL_MS, opts.deadlineAt ?? Infinity)
    await clock.sleep(Math.max(0, wake - later))
  }
}
