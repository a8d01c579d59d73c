import {hostname} from 'node:os'
import {describeExec, runDetached} from './exec.js'
import {httpJson, type RawBody} from './http-json.js'

/**
 * Delivery of a notification: a command (an argument vector, never a shell; the verdict
 * JSON on its stdin; its own process group, SIGKILLed whole at the timeout, its output
 * dropped so a flood cannot fill anything) or an HTTP POST (a hard deadline, no redirect
 * followed, 2xx is delivered). Either is abandoned at once (the group killed, the request
 * destroyed) when `signal` aborts: medic was asked to stop. Results are data; nothing throws.
 */
export interface Delivery {
  ok: boolean
  detail: string
}

export async function notifyCommand(argv: string[], input: string, timeoutMs: number, signal?: AbortSignal, env: NodeJS.ProcessEnv = process.env): Promise<Delivery> {
  const r = await runDetached(argv, {timeoutMs, input, env, signal})
  return {ok: !r.missing && !r.timedOut && r.code === 0, detail: describeExec(r)}
}

export async function notifyPost(url: string, body: RawBody, timeoutMs: number, signal?: AbortSignal): Promise<Delivery> {
  const r = await httpJson('POST', url, timeoutMs, undefined, body, signal)
  if (r.kind !== 'ok') return {ok: false, detail: `${r.kind}: ${r.detail}`}
  const ok = r.status >= 200 && r.status < 300
  return {ok, detail: ok ? `HTTP ${r.status} in ${r.ms}ms` : `HTTP ${r.status}: ${r.text.replace(/\s+/g, ' ').slice(0, 160)}`}
}

/** The name a notification gives this host. */
export function hostName(): string {
  try {
    return hostname()
  } catch {
    return 'localhost'
  }
}
