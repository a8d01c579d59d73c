import type {KillTarget} from '../core/kill-plan.js'
import {foreignSocket} from '../core/proc-parse.js'
import type {Action} from '../core/verdict.js'
import type {ServiceManager, StepResult} from '../sys/managers.js'
import type {ProcessDeps} from '../deps.js'
import {terminate} from './terminate.js'

export interface RestartInput {
  manager: ServiceManager
  /** The manager's view says the service is already down: no stop step. */
  alreadyDown: boolean
  port: number | null
  graceMs: number
  deadlineAt: number | null
  t0: number
}

export interface RestartResult {
  ok: boolean
  reason: string
  /** Holders of the port that were terminated. */
  freed: string[]
  actions: Action[]
}

/**
 * The restart every repairing command shares: stop through the manager → free the port
 * with the cleanup core (identity-checked TERM → grace → KILL; a protected holder stops
 * the restart) → start through the manager.
 */
export async function restartService(input: RestartInput, deps: ProcessDeps, log: (line: string) => void): Promise<RestartResult> {
  const actions: Action[] = []
  const at = () => Math.round(deps.clock.now() - input.t0)
  const fail = (reason: string): RestartResult => ({ok: false, reason, freed: [], actions})
  const record = (action: string, target: string, r: StepResult) => {
    actions.push({action, target, result: r.ok ? `ok${r.note ? ` (${r.note})` : ''}` : `failed: ${r.detail}`, ms: at()})
    deps.progress(`${action} ${target}: ${r.detail}`)
    log(`${action} ${target}: ${r.detail}`)
  }
  // No step starts after --timeout: a stop or start cut short by the deadline is worse than none.
  const late = (step: string) => input.deadlineAt !== null && deps.clock.now() >= input.deadlineAt ? fail(`--timeout reached before the ${step}`) : null
  if (!input.alreadyDown) {
    const tooLate = late('stop')
    if (tooLate) return tooLate
    deps.progress.step?.(`stopping via ${input.manager.label}`)
    const s = await input.manager.stop()
    deps.progress.step?.()
    if (s) record('stop', input.manager.label, s)
    if (s?.refused) return fail(`stop refused: ${s.detail}`)
  }
  const freed: string[] = []
  if (input.port !== null && !input.manager.freesPort) {
    const l = await deps.ports.listeners(input.port)
    const targets: KillTarget[] = []
    for (const pid of l.pids) {
      const seen = deps.gate.inspect(pid)
      if (!seen) continue
      const p = seen.proc
      if (seen.refusal) return fail(`port ${input.port} held by pid ${pid} (${p.comm}) that medic never signals: ${seen.refusal.reason}`)
      const foreign = foreignSocket(l.sockets, pid, deps.procs.realUid(pid))
      if (foreign) return fail(`port ${input.port} held by pid ${pid} (${p.comm}): ${foreign}`)
      targets.push({pid, startTime: p.startTime, label: `pid ${pid} (${p.comm})`})
    }
    if (l.invisible) return fail(`port ${input.port} held by an invisible process (not root?)`)
    if (targets.length) {
      const t = await terminate(targets, {graceMs: input.graceMs, killWaitMs: 3000, deadlineAt: input.deadlineAt, t0: input.t0}, deps)
      actions.push(...t.actions)
      for (const a of t.actions) log(`${a.action} ${a.target}: ${a.result}`)
      const stuck = t.plan.targets.filter((x) => x.phase === 'survived' || x.phase === 'denied')
      if (stuck.length) return fail(`could not free port ${input.port}: ${stuck.map((x) => `${x.target.label} ${x.reason}`).join(', ')}`)
      freed.push(...targets.map((x) => x.label))
    }
  }
  const tooLate = late('start')
  if (tooLate) return tooLate
  deps.progress.step?.(`starting via ${input.manager.label}`)
  const s = await input.manager.start()
  deps.progress.step?.()
  record('start', input.manager.label, s)
  if (!s.ok) return fail(`start failed: ${s.detail}`)
  return {ok: true, reason: 'started', freed, actions}
}
