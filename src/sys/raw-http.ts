import {getSystemErrorName} from 'node:util'
import type {ProbeResult} from '../core/health-policy.js'
import {ABORTED, HANG_UP, HttpResponseParser, type ResponseStep} from '../core/http-response.js'
import {monotonicMs} from './clock.js'
import {limitText, serviceWait, timeLeft} from './deadline.js'
import type {HttpResult} from './http-json.js'
import {rawTcpClient, type RawTcpClient, type TcpHandle} from './raw-handles.js'

/**
 * The health probe's HTTP GET and TCP connect on node's own TCP handle (tcp_wrap), with
 * medic's response parser (core/http-response.ts). Written here rather than through
 * node:http because loading node:http costs ~3.7 ms of a ~20 ms start-up budget (node:net
 * alone ~2 ms: its streams) on every cron and healthcheck run of `medic health`, which
 * sends one request to an address it already has; measured in docs/startup.md (issue 16).
 *
 * Only for what needs neither DNS nor TLS: `http://` to an IPv4 or IPv6 literal
 * (127.0.0.1, [::1]) and a TCP connect to one. Everything else — a name such as localhost,
 * https, user:password@, a node without the bindings (sys/raw-handles.ts) — returns null
 * and the caller goes through node:http / node:net as before. Results and their texts are
 * those of sys/http-json.ts and node:net (test/sys/raw-http.test.ts runs every case through
 * both): the same request (`GET <path+query> HTTP/1.1`, `user-agent: medic`, the Host
 * header with its port, `Connection: close`), the same hard timeout, and node's error
 * texts (`ECONNREFUSED` → `connection refused`, `ECODE: connect ECODE addr:port`,
 * `ECONNRESET: read ECONNRESET`, `ECONNRESET: socket hang up` before a whole head,
 * `aborted` inside a body, `HPE_…: Parse Error: …`). The handle is closed on every path.
 */

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/

/** An IPv4 literal as node's net.isIPv4 accepts it, or an IPv6 one (brackets optional); null for anything a resolver would have to answer. */
function ipLiteral(host: string): {v6: boolean; address: string} | null {
  if (IPV4.test(host)) return {v6: false, address: host}
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (!bare.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(bare)) return null
  try {
    return {v6: true, address: new URL(`http://[${bare}]/`).hostname.slice(1, -1)}
  } catch {
    return null
  }
}

const validPort = (p: number) => Number.isInteger(p) && p > 0 && p < 65536

interface Outcome {
  kind: 'ok' | 'timeout' | 'refused' | 'error'
  detail: string
}

/**
 * One connection: connect, then `talk` (if any) with the handle; `done` is called exactly
 * once, and the handle is closed before it (so nothing keeps the event loop alive). Throws
 * only if the handle does not behave as this node's does, before anything was sent: the
 * caller goes through node:http / node:net then.
 */
function connection(raw: RawTcpClient, ip: {v6: boolean; address: string}, port: number, limit: number, timeoutText: string, talk: ((h: TcpHandle, finish: (o: Outcome, status?: number, text?: string) => void) => void) | null, done: (o: Outcome, status?: number, text?: string) => void): void {
  const h = new raw.TCP(raw.SOCKET)
  let settled = false
  const finish = (o: Outcome, status?: number, text?: string) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    h.close() // (onread stays: node aborts on anything but a function there; a closed handle reads no more)
    done(o, status, text)
  }
  const req = new raw.TCPConnectWrap()
  req.oncomplete = (status) => {
    if (settled) return
    if (status < 0) return finish(connectFailure(status, ip.address, port))
    if (!talk) return finish({kind: 'ok', detail: ''})
    try {
      talk(h, finish)
    } catch (e) {
      finish({kind: 'error', detail: `${(e as NodeJS.ErrnoException).code ?? 'error'}: ${(e as Error).message}`})
    }
  }
  let err: number
  try {
    err = ip.v6 ? h.connect6(req, ip.address, port) : h.connect(req, ip.address, port)
  } catch (e) {
    settled = true
    h.close()
    throw e
  }
  const timer = setTimeout(() => finish({kind: 'timeout', detail: timeoutText}), limit)
  if (err) finish(connectFailure(err, ip.address, port))
}

/** `start(resolve)` now, on the raw handle; null when it threw (the handle is not this node's): the caller's node:http / node:net path then. */
function started<T>(what: string, start: (resolve: (r: T) => void) => void): Promise<T> | null {
  let resolve!: (r: T) => void
  const answer = new Promise<T>((r) => (resolve = r))
  try {
    start(resolve)
  } catch {
    return null
  }
  return serviceWait(what, () => answer)
}

function connectFailure(status: number, address: string, port: number): Outcome {
  const code = getSystemErrorName(status)
  return code === 'ECONNREFUSED' ? {kind: 'refused', detail: 'connection refused'} : {kind: 'error', detail: `${code}: connect ${code} ${address}:${port}`}
}

function syscallFailure(status: number, syscall: 'read' | 'write'): Outcome {
  const code = getSystemErrorName(status)
  return {kind: 'error', detail: `${code}: ${syscall} ${code}`}
}

/** GET `url` on the raw handle, as httpJson('GET', url, timeoutMs) would; null: not for this client (use httpJson). `text` keeps the first 64 KiB of the body. */
export function rawHttpGet(url: string, timeoutMs: number): Promise<HttpResult> | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return null // httpJson says what is wrong with it
  }
  if (u.protocol !== 'http:' || u.username !== '' || u.password !== '') return null
  const ip = ipLiteral(u.hostname)
  const port = u.port === '' ? 80 : Number(u.port)
  if (!ip || !validPort(port)) return null
  const raw = rawTcpClient()
  if (!raw) return null
  const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nuser-agent: medic\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`
  const t0 = monotonicMs()
  const ms = () => Math.round(monotonicMs() - t0)
  const limit = timeLeft(timeoutMs) // never past the command's --timeout
  return started<HttpResult>(`GET ${url}`, (resolve) => {
    connection(raw, ip, port, limit, `no answer within ${limitText(timeoutMs, limit)}`, (h, finish) => {
      const parser = new HttpResponseParser()
      const step = (s: ResponseStep) => {
        if (s.kind === 'done') finish({kind: 'ok', detail: ''}, s.status, s.bodyText)
        else if (s.kind === 'error') finish(s.code === ABORTED ? {kind: 'error', detail: 'aborted'} : {kind: 'error', detail: s.code === HANG_UP ? 'ECONNRESET: socket hang up' : `${s.code}: Parse Error: ${s.reason}`})
      }
      h.onread = (ab) => {
        const n = raw.streamBaseState[raw.kReadBytesOrError]
        if (n > 0 && ab) step(parser.feed(new Uint8Array(ab, raw.streamBaseState[raw.kArrayBufferOffset], n)))
        else if (n < 0) {
          if (getSystemErrorName(n) === 'EOF') step(parser.end())
          else finish(syscallFailure(n, 'read'))
        }
      }
      const readErr = h.readStart()
      if (readErr) return finish(syscallFailure(readErr, 'read'))
      // As node's stream_base_commons does: a write that does not complete at once (the
      // socket buffer full: never for these ~100 bytes in practice) reports through oncomplete.
      const w = new raw.WriteWrap()
      w.handle = h
      w.async = false
      w.oncomplete = (status) => {
        if (status < 0) finish(syscallFailure(status, 'write'))
      }
      const writeErr = h.writeLatin1String(w, request)
      if (writeErr) return finish(syscallFailure(writeErr, 'write'))
      w.async = raw.streamBaseState[raw.kLastWriteWasAsync] !== 0
    }, (o, status, text = '') => {
      if (o.kind !== 'ok') return resolve({kind: o.kind, detail: o.detail, ms: ms()})
      let body: unknown = null
      try {
        body = JSON.parse(text)
      } catch {
        // plain text: the caller reads `text`
      }
      resolve({kind: 'ok', status: status ?? 0, body, text, ms: ms()})
    })
  })
}

/** The `--tcp` probe's connect on the raw handle, as prober.tcp does it through node:net; null: not for this client (use node:net). */
export function rawTcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> | null {
  const ip = ipLiteral(host)
  if (!ip || !validPort(port)) return null
  const raw = rawTcpClient()
  if (!raw) return null
  const t0 = monotonicMs()
  const ms = () => Math.round(monotonicMs() - t0)
  const limit = timeLeft(timeoutMs) // never past the command's --timeout
  return started<ProbeResult>(`TCP ${host}:${port}`, (resolve) => {
    connection(raw, ip, port, limit, `TCP connect not done within ${limitText(timeoutMs, limit)}`, null, (o) => {
      const t = ms()
      resolve(o.kind === 'ok' ? {kind: 'ok', ok: true, ms: t, detail: `TCP connect in ${t}ms`} : {kind: o.kind, ok: false, ms: t, detail: o.detail})
    })
  })
}
