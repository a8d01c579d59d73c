/** Pure rules of the sandbox watchdog's housekeeping: lock files, session archives, ops requests. */

/** A lock holds `{"pid": N}` (the sandbox's format) or a bare number. Anything else: null. */
export function parseLockPid(text: string): number | null {
  const t = text.trim()
  if (/^\d+$/.test(t)) return Number(t) > 0 ? Number(t) : null
  try {
    const o = JSON.parse(t) as {pid?: unknown}
    const pid = typeof o?.pid === 'string' && /^\d+$/.test(o.pid) ? Number(o.pid) : o?.pid
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

export type LockDecision = 'keep-fresh' | 'keep-live' | 'keep-unparsable' | 'remove'

/**
 * Removed only when BOTH older than the max age AND its pid is dead. A live pid's lock is
 * never removed however old; an unparsable one is kept (watchdog.sh deleted those too).
 */
export function lockDecision(ageMs: number, maxAgeMs: number, pid: number | null, pidAlive: boolean): LockDecision {
  if (ageMs <= maxAgeMs) return 'keep-fresh'
  if (pid === null) return 'keep-unparsable'
  return pidAlive ? 'keep-live' : 'remove'
}

/** `20260123T101112Z`: sortable, no colons. */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/** `<name>.<stamp>.old`, then `.1.old`, `.2.old` … until a name is free: never overwrite an archive. */
export function archiveName(path: string, d: Date, taken: (candidate: string) => boolean): string {
  const base = `${path}.${utcStamp(d)}`
  if (!taken(`${base}.old`)) return `${base}.old`
  for (let i = 1; ; i++) if (!taken(`${base}.${i}.old`)) return `${base}.${i}.old`
}

export type OpsAction = 'restart' | 'set_model' | 'set_timezone'

export type OpsRequest =
  | {ok: true; action: OpsAction; params: Record<string, unknown>}
  | {ok: false; error: string}

export function parseOpsRequest(text: string): OpsRequest {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch (e) {
    return {ok: false, error: `not JSON: ${(e as Error).message}`}
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return {ok: false, error: 'not a JSON object'}
  const action = (o as {action?: unknown}).action
  if (action !== 'restart' && action !== 'set_model' && action !== 'set_timezone') return {ok: false, error: `unknown action: ${JSON.stringify(action ?? null)}`}
  return {ok: true, action, params: o as Record<string, unknown>}
}
