import {fastLookHolders, type ProbeResult, type RestartMemory} from '../core/health-policy.js'
import type {LogPosition} from '../core/log-match.js'
import type {Status} from '../core/verdict.js'
import type {KnownHolder} from '../sys/port-table.js'
import type {Prober} from '../sys/probe.js'
import {readJsonJudged} from '../sys/state-store.js'

/*
 * What a health run starts before the op's module graph is loaded (cli/specs/health.ts
 * starts both as the command starts, so they overlap the set-up): the first probe, and the
 * fast look at the port's holders, which reads health's state file for them.
 */

/** Persisted between runs in `<state-dir>/health/<name>.json`. */
export interface HealthState extends RestartMemory {
  version: 1
  /** Wall ms of every repair started (the budget). */
  repairs: number[]
  lastRepair: {by: number; startedAt: number; finishedAt: number; status: Status; summary: string} | null
  /** --log-pattern: where the last run stopped reading the service's log. */
  log?: LogPosition
}

/**
 * The port's holders health's last full look recorded, while that look is recent enough
 * for the fast look (core/health-policy.ts fastLookHolders); none otherwise. Read before
 * the lock and before the state dir is judged, as a hint only, through the file gate's judged
 * walk (a folder or file another user can change, a symlink, a FIFO: no hint, a full look): sys/port-table.ts knownListeners proves each one still holds
 * the port's socket, and the op decides on what it proves.
 */
export function knownHolders(statePath: string, now: number): KnownHolder[] {
  // Read before this run's state dir is judged (makeProcessDeps): only through the file gate's judged walk.
  const s = readJsonJudged<HealthState>(statePath)
  return s && typeof s === 'object' && s.version === 1 && Array.isArray(s.owners) ? fastLookHolders(s, now) : []
}

/** One probe of the service: HTTP when it has a URL, else a TCP connect to host:port. */
export function probeService(prober: Prober, o: {url: string | null; host: string; port: number; probeTimeoutMs: number; healthy: [number, number]}): Promise<ProbeResult> {
  return o.url ? prober.http(o.url, o.probeTimeoutMs, o.healthy) : prober.tcp(o.host, o.port, o.probeTimeoutMs)
}
