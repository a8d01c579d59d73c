/**
 * Which remedy a confirmed freeze gets, from facts the ops layer gathered. Pure.
 *
 * - Stall (API up, inference dead): kill only the stuck runner; the manager restart when
 *   that was already tried for this freeze, is off, or there is no killable runner. A
 *   listener on the port that is not the Ollama server by identity → ALERT naming it.
 * - API down or wedged, and medic can see the server (the listener of a local URL):
 *   stopped (state T, the seed's `pkill -STOP ollama`) → SIGTERM + SIGCONT to it and its
 *   runners through the signal path, then a start through the manager; anything else →
 *   the manager restart.
 * - Refused with no Ollama process at all → a start through the manager.
 * - A remote Ollama (or `--manager ssh`, or an ssh tunnel): its processes are not ours to
 *   see; the manager restart (systemctl restart also starts a stopped unit).
 * Fail closed: a stopped listener that is traced, protected, or is not the Ollama server
 * by identity (its exe `ollama serve`, or the managed unit's cgroup — never a name match)
 * is never signalled — that is an ALERT.
 */
import type {DownHow} from './policy.js'
import type {FrozenState, Remediation} from './freeze.js'

export interface ListenerFacts {
  pid: number
  /** /proc state letter: T stopped by a signal, t stopped by a tracer, D uninterruptible. */
  state: string
  comm: string
  /** It is the Ollama server by identity (core/ollama/api.ts isOllamaServer): never a name match alone. */
  isOllama: boolean
  /** Why medic must never signal it (pid 1, medic's ancestor, run-dev-safe job, --protect), or null. */
  refusal: string | null
}

export interface RemedyFacts {
  suspect: 'stall' | 'down'
  down: DownHow | null
  /** Medic can see Ollama's processes: a local URL and not `--manager ssh`. */
  visible: boolean
  /** LISTEN owners of the API port (never clients of it). */
  listeners: ListenerFacts[]
  /** Some listening socket's owner is invisible (not root). */
  invisibleListener: boolean
  /** `ollama serve` processes that do not hold the port (starting, or bound elsewhere). */
  otherServers: number
  runnerKill: boolean
  killableRunners: number
}

export type Remedy = {kind: 'act'; remedy: Remediation; why: string} | {kind: 'alert'; why: string}

export function chooseRemedy(f: RemedyFacts, s: FrozenState, now: number, restartWindowMs: number): Remedy {
  if (f.suspect === 'stall') {
    // A proxy or bridge on Ollama's port is not Ollama: its children are not Ollama's runners,
    // and restarting "Ollama" would not touch what answers on the port.
    const stranger = f.listeners.find((l) => !l.isOllama)
    if (stranger) return {kind: 'alert', why: `inference stalled, but pid ${stranger.pid} (${stranger.comm}) on the port is not the Ollama server by identity; nothing signalled`}
    const recurred = s.lastAction?.kind === 'runner-kill' && now - s.lastAction.at < restartWindowMs
    if (f.runnerKill && f.killableRunners > 0 && !recurred) return {kind: 'act', remedy: 'runner-kill', why: 'inference stalled: kill the stuck runner'}
    return {kind: 'act', remedy: 'restart', why: recurred ? 'stalled again after a runner kill: restart' : 'inference stalled: restart'}
  }
  if (!f.visible) return {kind: 'act', remedy: 'restart', why: 'API down on a host whose processes medic cannot see: restart through the manager'}
  if (f.invisibleListener) return {kind: 'act', remedy: 'restart', why: 'API down; its listener is invisible to medic (not root?): restart through the manager'}
  if (f.listeners.length === 0) {
    if (f.down === 'refused' && f.otherServers === 0) return {kind: 'act', remedy: 'start', why: 'connection refused and no Ollama process: start'}
    return {kind: 'act', remedy: 'restart', why: f.otherServers > 0 ? 'API down; an ollama serve runs without the port: restart' : 'API down: restart'}
  }
  const traced = f.listeners.find((l) => l.state === 't')
  if (traced) return {kind: 'alert', why: `server pid ${traced.pid} (${traced.comm}) stopped by a debugger (state t); not signalled`}
  const stopped = f.listeners.filter((l) => l.state === 'T')
  if (stopped.length === 0) return {kind: 'act', remedy: 'restart', why: `API ${f.down === 'timeout' ? 'wedged (accepts, never answers)' : 'down'}, server not stopped: restart`}
  const refused = f.listeners.find((l) => l.refusal !== null)
  if (refused) return {kind: 'alert', why: `server pid ${refused.pid} (${refused.comm}) stopped but medic never signals it (${refused.refusal})`}
  const stranger = f.listeners.find((l) => !l.isOllama)
  if (stranger) return {kind: 'alert', why: `pid ${stranger.pid} (${stranger.comm}) on the port is stopped and is not the Ollama server; not signalled`}
  return {kind: 'act', remedy: 'resume-kill', why: `server pid ${stopped.map((l) => l.pid).join(', ')} stopped (state T): SIGTERM + SIGCONT, then start`}
}
