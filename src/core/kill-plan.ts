/**
 * Kill escalation as a pure step function of (state, observations, now).
 * The ops loop observes liveness, calls `stepKill`, sends the signals it returns and
 * sleeps until `wakeAt` or the next poll. Nothing here reads a clock.
 *
 * Per target: SIGTERM then SIGCONT (a stopped process can only act on TERM once it
 * runs again; systemd does the same) → wait up to `graceMs` → SIGKILL → wait up to
 * `killWaitMs` → `survived` (typically D state, or a zombie's unreaped parent).
 */

export interface KillTarget {
  pid: number
  startTime: string
  label: string
}

export type KillPhase = 'pending' | 'terminating' | 'killing' | 'gone' | 'survived' | 'denied'

export interface TargetProgress {
  target: KillTarget
  phase: KillPhase
  termAt?: number
  killAt?: number
  endAt?: number
  /** Why a target ended as it did: `exited after TERM`, `permission denied` … */
  reason?: string
}

export interface KillPlan {
  startedAt: number
  graceMs: number
  killWaitMs: number
  targets: TargetProgress[]
}

export type KillSignal = 'SIGTERM' | 'SIGCONT' | 'SIGKILL'

export interface SignalOrder {
  target: KillTarget
  signal: KillSignal
}

export interface KillStep {
  plan: KillPlan
  signals: SignalOrder[]
  /** The next deadline; the loop also polls liveness before it. Null when done. */
  wakeAt: number | null
  done: boolean
}

export function planKill(targets: KillTarget[], now: number, graceMs: number, killWaitMs: number): KillPlan {
  return {startedAt: now, graceMs, killWaitMs, targets: targets.map((target) => ({target, phase: 'pending'}))}
}

const FINAL: ReadonlySet<KillPhase> = new Set(['gone', 'survived', 'denied'])

export function isFinal(p: TargetProgress): boolean {
  return FINAL.has(p.phase)
}

/** `alive` maps a pid to whether the process with the target's identity still runs. */
export function stepKill(plan: KillPlan, alive: (pid: number) => boolean, now: number): KillStep {
  const signals: SignalOrder[] = []
  const targets = plan.targets.map((t): TargetProgress => {
    if (isFinal(t)) return t
    if (!alive(t.target.pid)) {
      const how = t.phase === 'pending' ? 'already gone' : t.phase === 'terminating' ? 'exited after SIGTERM' : 'exited after SIGKILL'
      return {...t, phase: 'gone', endAt: now, reason: how}
    }
    switch (t.phase) {
      case 'pending':
        signals.push({target: t.target, signal: 'SIGTERM'}, {target: t.target, signal: 'SIGCONT'})
        return {...t, phase: 'terminating', termAt: now}
      case 'terminating':
        if (now - (t.termAt ?? now) < plan.graceMs) return t
        signals.push({target: t.target, signal: 'SIGKILL'})
        return {...t, phase: 'killing', killAt: now}
      case 'killing':
        if (now - (t.killAt ?? now) < plan.killWaitMs) return t
        return {...t, phase: 'survived', endAt: now, reason: 'still alive after SIGKILL'}
      default:
        return t
    }
  })
  const next: KillPlan = {...plan, targets}
  const wakes = targets
    .filter((t) => !isFinal(t))
    .map((t) => (t.phase === 'terminating' ? (t.termAt ?? now) + plan.graceMs : (t.killAt ?? now) + plan.killWaitMs))
  const done = targets.every(isFinal)
  return {plan: next, signals, wakeAt: done ? null : Math.min(...wakes), done}
}

/** A signal came back `denied` (EPERM) or the identity changed: the target is final. */
export function markTarget(plan: KillPlan, pid: number, phase: 'gone' | 'denied' | 'survived', reason: string, now: number): KillPlan {
  return {
    ...plan,
    targets: plan.targets.map((t) => (t.target.pid === pid && !isFinal(t) ? {...t, phase, reason, endAt: now} : t)),
  }
}

/** The deadline of the whole command passed: whatever is still running survived. */
export function abandonKill(plan: KillPlan, now: number, why: string): KillPlan {
  return {
    ...plan,
    targets: plan.targets.map((t) => (isFinal(t) ? t : {...t, phase: 'survived', reason: why, endAt: now})),
  }
}
