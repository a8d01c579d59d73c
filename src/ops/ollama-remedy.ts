import type {KillTarget} from '../core/kill-plan.js'
import {parsePs} from '../core/ollama/api.js'
import type {Remediation} from '../core/ollama/freeze.js'
import type {Action} from '../core/verdict.js'
import {httpJson} from '../sys/http-json.js'
import type {ServiceManager} from '../sys/managers.js'
import type {ProcessDeps} from '../deps.js'
import {canary} from './ollama-canary.js'
import type {Listener, Runner} from './ollama-observe.js'
import {restartService} from './restart.js'
import {terminate} from './terminate.js'

export interface RemedyInput {
  remedy: Remediation
  manager: ServiceManager
  port: number
  visible: boolean
  listeners: Listener[]
  runners: Runner[]
  graceMs: number
  deadlineAt: number | null
  t0: number
}

export interface RemedyResult {
  ok: boolean
  detail: string
  actions: Action[]
  /** Nothing was done (nothing medic may signal, or the server resumed first): the budget is not charged; the status to report. */
  notDone?: 'ALERT' | 'UNKNOWN'
}

/**
 * The signal gate's look at each target now, by identity (a pid gone or reused since the
 * pass observed it is dropped: not ours); what the gate would refuse, with its reason.
 * All or nothing is the remedy's rule, so it asks before the first signal; the gate asks
 * again before each one.
 */
function look(targets: KillTarget[], deps: ProcessDeps): {ok: {target: KillTarget; state: string}[]; refused: string[]} {
  const ok: {target: KillTarget; state: string}[] = []
  const refused: string[] = []
  for (const t of targets) {
    const seen = deps.gate.inspect(t.pid, t.startTime)
    if (!seen) continue
    if (seen.refusal) refused.push(`${t.label}: ${seen.refusal.reason}`)
    else ok.push({target: t, state: seen.proc.state})
  }
  return {ok, refused}
}

/** Identity-checked SIGTERM + SIGCONT → grace → SIGKILL, through the one signal path. */
async function kill(targets: KillTarget[], input: RemedyInput, deps: ProcessDeps, actions: Action[]): Promise<{ok: boolean; detail: string}> {
  const r = await terminate(targets, {graceMs: input.graceMs, killWaitMs: 3000, deadlineAt: input.deadlineAt, t0: input.t0}, deps)
  actions.push(...r.actions)
  const left = r.plan.targets.filter((t) => t.phase === 'survived' || t.phase === 'denied')
  return left.length ? {ok: false, detail: `still running: ${left.map((t) => `${t.target.label} (${t.reason})`).join(', ')}`} : {ok: true, detail: targets.map((t) => t.label).join(', ')}
}

/** Carries out the remedy `chooseRemedy` picked. The verification is the caller's, after the cooldown. */
export async function applyRemedy(input: RemedyInput, deps: ProcessDeps, log: (line: string) => void): Promise<RemedyResult> {
  const actions: Action[] = []
  const restart = async (alreadyDown: boolean, port: number | null, what: string): Promise<RemedyResult> => {
    const r = await restartService({manager: input.manager, alreadyDown, port, graceMs: input.graceMs, deadlineAt: input.deadlineAt, t0: input.t0}, deps, log)
    actions.push(...r.actions)
    return {ok: r.ok, detail: r.ok ? `${what} via ${input.manager.label}` : r.reason, actions}
  }
  switch (input.remedy) {
    case 'runner-kill': {
      const runners = input.runners.filter((r) => r.state !== 'D').map((r) => ({pid: r.pid, startTime: r.startTime, label: `runner pid ${r.pid}`}))
      const {ok, refused} = look(runners, deps)
      if (ok.length === 0) return {ok: false, detail: `no runner medic may signal${refused.length ? ` (${refused.join('; ')})` : ''}`, actions, notDone: 'ALERT'}
      const k = await kill(ok.map((o) => o.target), input, deps, actions)
      return {ok: k.ok, detail: k.ok ? `killed stuck runner ${ok.map((o) => o.target.pid).join(', ')}` : `stuck runner not cleared: ${k.detail}`, actions}
    }
    case 'resume-kill': {
      // The stopped server and every runner under it (a KILLed server orphans its runners,
      // stopped too after `pkill -STOP ollama`, holding VRAM), as observed this pass.
      const stopped = input.listeners.filter((l) => l.state === 'T')
      const stoppedPids = new Set(stopped.map((l) => l.pid))
      const under = new Set(deps.procs.descendants([...stoppedPids]))
      const targets: KillTarget[] = [
        ...stopped.map((l) => ({pid: l.pid, startTime: l.startTime, label: `server pid ${l.pid} (${l.comm}, stopped)`})),
        ...input.runners.filter((r) => under.has(r.pid)).map((r) => ({pid: r.pid, startTime: r.startTime, label: `runner pid ${r.pid}`})),
      ]
      const {ok, refused} = look(targets, deps)
      if (refused.length) return {ok: false, detail: `not signalled: ${refused.join('; ')}`, actions, notDone: 'ALERT'}
      // Stopped a moment ago; still stopped now? A server resumed since (SIGCONT by someone) is left alone.
      const resumed = ok.find((o) => stoppedPids.has(o.target.pid) && o.state !== 'T')
      if (resumed) return {ok: false, detail: `server pid ${resumed.target.pid} resumed (state ${resumed.state}) before medic acted; not signalled`, actions, notDone: 'UNKNOWN'}
      if (ok.length === 0) return restart(false, null, 'restarted (the stopped server was gone)')
      const k = await kill(ok.map((o) => o.target), input, deps, actions)
      log(k.ok ? `terminated ${k.detail}` : k.detail)
      if (!k.ok) return {ok: false, detail: `the stopped Ollama not cleared: ${k.detail}`, actions}
      // No port freeing after it: whatever holds the port now is not the server medic saw.
      const s = await restart(true, null, 'started')
      return {...s, detail: `killed stopped server pid ${[...stoppedPids].join(', ')}; ${s.detail}`}
    }
    case 'start':
      return restart(true, null, 'started')
    case 'restart': {
      // Free the port only after a systemd stop (an orphaned `ollama serve`), and only of
      // what holds it as Ollama: a stranger on the port is never medic's to kill here (the
      // start then fails, ALERT). A restart command, Docker or ssh owns the whole restart,
      // and Docker's proxy holds the port.
      const systemd = input.manager.kind === 'systemd' || input.manager.kind === 'systemd-user'
      const ours = input.listeners.length > 0 && input.listeners.every((l) => l.isOllama)
      return restart(false, input.visible && systemd && ours ? input.port : null, 'restarted')
    }
  }
}

/** After the cooldown, the same probes: the API answers, and a loaded model answers a canary. */
export async function verifyOllama(o: {url: string; probeTimeoutMs: number; psTimeoutMs: number; canaryTimeoutMs: number}): Promise<{ok: boolean; how: string}> {
  const v = await httpJson('GET', `${o.url}/api/version`, o.probeTimeoutMs)
  if (!(v.kind === 'ok' && v.status === 200)) return {ok: false, how: `API still down (${v.kind === 'ok' ? `HTTP ${v.status}` : v.detail})`}
  const ps = await httpJson('GET', `${o.url}/api/ps`, o.psTimeoutMs)
  const after = ps.kind === 'ok' ? parsePs(ps.body) : null
  if (!after) return {ok: true, how: 'API up; /api/ps inconclusive'}
  if (after.length === 0) return {ok: true, how: 'API up; nothing loaded (fresh)'}
  const c = await canary(o.url, after[0], o.canaryTimeoutMs)
  return {ok: c.ok, how: `API up; ${c.detail}`}
}
