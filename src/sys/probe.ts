import type {ProbeResult} from '../core/health-policy.js'
import {monotonicMs} from './clock.js'
import {limitText, serviceWait, timeLeft} from './deadline.js'
import {rawHttpGet, rawTcpProbe} from './raw-http.js'

export interface Prober {
  http(url: string, timeoutMs: number, healthy: [number, number]): Promise<ProbeResult>
  tcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult>
}

/**
 * HTTP and TCP probes with a hard timeout. Refused or timed out is DOWN — gateway_health.sh
 * v1 counted curl's `000` (no answer at all) as healthy. An answer counts once its body has
 * ended: a service that sends headers and stalls is as wedged as one that never answers.
 *
 * To an IP literal (the default http://127.0.0.1:<port>/health, --host 127.0.0.1) both go
 * out on node's TCP handle (sys/raw-http.ts: no node:http, node:net or streams on a
 * healthy run, ~3.7 ms of start-up); anything else through node:http / node:net, loaded
 * only then.
 */
export const prober: Prober = {
  async http(url, timeoutMs, [lo, hi]) {
    const r = await (rawHttpGet(url, timeoutMs) ?? (await import('./http-json.js')).httpJson('GET', url, timeoutMs))
    if (r.kind !== 'ok') return {kind: r.kind, ok: false, ms: r.ms, detail: r.detail}
    const ok = r.status >= lo && r.status <= hi
    return {kind: ok ? 'ok' : 'http-error', ok, status: r.status, ms: r.ms, detail: `HTTP ${r.status} in ${r.ms}ms`}
  },
  async tcp(host, port, timeoutMs) {
    const raw = rawTcpProbe(host, port, timeoutMs)
    if (raw) return raw
    const {connect} = await import('node:net')
    const t0 = monotonicMs()
    const ms = () => Math.round(monotonicMs() - t0)
    const limit = timeLeft(timeoutMs) // never past the command's --timeout
    return serviceWait(`TCP ${host}:${port}`, () => new Promise((resolve) => {
      const sock = connect({host, port})
      const done = (r: ProbeResult) => {
        clearTimeout(timer)
        sock.destroy()
        resolve(r)
      }
      const timer = setTimeout(() => done({kind: 'timeout', ok: false, ms: ms(), detail: `TCP connect not done within ${limitText(timeoutMs, limit)}`}), limit)
      sock.once('connect', () => done({kind: 'ok', ok: true, ms: ms(), detail: `TCP connect in ${ms()}ms`}))
      sock.once('error', (e: NodeJS.ErrnoException) => done({kind: e.code === 'ECONNREFUSED' ? 'refused' : 'error', ok: false, ms: ms(), detail: e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.code}: ${e.message}`}))
    }))
  },
}
