import {formatMs} from '../core/duration.js'
import {limitText, serviceWait, timeLeft} from './deadline.js'

export type HttpResult =
  | {kind: 'ok'; status: number; body: unknown; text: string; ms: number}
  | {kind: 'timeout' | 'refused' | 'error'; detail: string; ms: number}

/** A body that is not JSON (ntfy's plain text), or JSON with headers of its own. */
export interface RawBody {
  contentType: string
  body: string
  headers?: Record<string, string>
}

/**
 * One HTTP request with a hard deadline; the request is destroyed (aborted) when it
 * passes, so a canary stuck in Ollama's queue is dropped by the server too.
 */
export async function httpJson(method: 'GET' | 'POST', url: string, timeoutMs: number, payload?: unknown, raw?: RawBody, signal?: AbortSignal): Promise<HttpResult> {
  const u = new URL(url)
  // node:http only when a request is sent: the health probe to an IP literal does without it (sys/raw-http.ts)
  const request = u.protocol === 'https:' ? (await import('node:https')).request : (await import('node:http')).request
  const t0 = Date.now()
  const limit = timeLeft(timeoutMs) // never past the command's --timeout
  return serviceWait(`${method} ${url}`, () => new Promise((resolve) => {
    let done = false
    const finish = (r: HttpResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      req.destroy()
      resolve(r)
    }
    const data = raw ? raw.body : payload === undefined ? undefined : JSON.stringify(payload)
    const type = raw ? raw.contentType : 'application/json'
    const req = request(u, {method, agent: false, headers: {'user-agent': 'medic', ...raw?.headers, ...(data !== undefined ? {'content-type': type, 'content-length': Buffer.byteLength(data)} : {})}}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        if (text.length < 4 * 1024 * 1024) text += d
      })
      res.on('end', () => {
        let body: unknown = null
        try {
          body = JSON.parse(text)
        } catch {
          // NDJSON or plain text: the caller reads `text`.
        }
        finish({kind: 'ok', status: res.statusCode ?? 0, body, text, ms: Date.now() - t0})
      })
      res.on('error', (e) => finish({kind: 'error', detail: e.message, ms: Date.now() - t0}))
    })
    const timer = setTimeout(() => finish({kind: 'timeout', detail: `no answer within ${limitText(timeoutMs, limit)}`, ms: Date.now() - t0}), limit)
    req.on('error', (e: NodeJS.ErrnoException) => finish({kind: e.code === 'ECONNREFUSED' ? 'refused' : 'error', detail: e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.code ?? 'error'}: ${e.message}`, ms: Date.now() - t0}))
    // Given up by the caller (medic stopped): the request is destroyed at once, the connection hung up.
    const abandon = () => finish({kind: 'error', detail: 'abandoned', ms: Date.now() - t0})
    if (signal?.aborted) abandon()
    signal?.addEventListener('abort', abandon, {once: true})
    req.end(data)
  }))
}
