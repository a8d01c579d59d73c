import {request as httpRequest} from 'node:http'
import {connect} from 'node:net'
import {performance} from 'node:perf_hooks'
import type {ProbeResult} from '../core/health-policy.js'

export interface Prober {
  http(url: string, timeoutMs: number, healthy: [number, number]): Promise<ProbeResult>
  tcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult>
}

/**
 * HTTP and TCP probes with a hard timeout. Refused or timed out is DOWN — gateway_health.sh
 * v1 counted curl's `000` (no answer at all) as healthy. node:http rather than fetch: it
 * loads in a few ms where fetch pulls in undici on first use.
 */
export const prober: Prober = {
  async http(url, timeoutMs, [lo, hi]) {
    const u = new URL(url)
    // node:https drags in TLS: loaded only for an https URL.
    const request = u.protocol === 'https:' ? (await import('node:https')).request : httpRequest
    const t0 = performance.now()
    const ms = () => Math.round(performance.now() - t0)
    return new Promise((resolve) => {
      let settled = false
      const done = (r: ProbeResult) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.destroy()
        resolve(r)
      }
      const req = request(u, {method: 'GET', headers: {'user-agent': 'medic-health'}, agent: false}, (res) => {
        const status = res.statusCode ?? 0
        res.resume()
        const ok = status >= lo && status <= hi
        done({kind: ok ? 'ok' : 'http-error', ok, status, ms: ms(), detail: `HTTP ${status} in ${ms()}ms`})
      })
      const timer = setTimeout(() => done({kind: 'timeout', ok: false, ms: ms(), detail: `no answer within ${timeoutMs}ms`}), timeoutMs)
      req.on('error', (e: NodeJS.ErrnoException) => {
        const refused = e.code === 'ECONNREFUSED'
        done({kind: refused ? 'refused' : 'error', ok: false, ms: ms(), detail: refused ? 'connection refused' : `${e.code ?? 'error'}: ${e.message}`})
      })
      req.end()
    })
  },
  tcp(host, port, timeoutMs) {
    const t0 = performance.now()
    const ms = () => Math.round(performance.now() - t0)
    return new Promise((resolve) => {
      const sock = connect({host, port})
      const done = (r: ProbeResult) => {
        clearTimeout(timer)
        sock.destroy()
        resolve(r)
      }
      const timer = setTimeout(() => done({kind: 'timeout', ok: false, ms: ms(), detail: `TCP connect not done within ${timeoutMs}ms`}), timeoutMs)
      sock.once('connect', () => done({kind: 'ok', ok: true, ms: ms(), detail: `TCP connect in ${ms()}ms`}))
      sock.once('error', (e: NodeJS.ErrnoException) => done({kind: e.code === 'ECONNREFUSED' ? 'refused' : 'error', ok: false, ms: ms(), detail: e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.code}: ${e.message}`}))
    })
  },
}
