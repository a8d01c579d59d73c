import {spawn} from 'node:child_process'
import {createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {formatMs} from '../../src/core/duration.js'
import {monotonicMs} from '../../src/sys/clock.js'
import {setDeadline} from '../../src/sys/deadline.js'
import {httpJson, type HttpResult} from '../../src/sys/http-json.js'
import {prober} from '../../src/sys/probe.js'
import {rawHttpGet, rawTcpProbe} from '../../src/sys/raw-http.js'
import {Janitor, ROOT} from '../helpers/procs.js'

// The health probe on node's TCP handle (src/sys/raw-http.ts) and its fallback through
// node:http / node:net: every case runs through both, and both must say the same. The raw
// path is forced off as in port-table.test.ts: NODE_PENDING_DEPRECATION=1 (process.binding
// would warn), which src/sys/raw-handles.ts honours.

const j = new Janitor()
const servers: {close(): Promise<void>}[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await j.cleanup()
})

interface Fixture {
  port: number
  /** Each request as the server received it (up to its blank line). */
  requests: string[]
  close(): Promise<void>
}

/** A TCP server that reads each request's head, then does `answer` with the socket; ready once listening with its handler installed. */
async function fixture(answer: (sock: Socket) => void, host?: string): Promise<Fixture> {
  const requests: string[] = []
  const socks = new Set<Socket>()
  const srv: Server = createServer((sock) => {
    socks.add(sock)
    sock.on('close', () => socks.delete(sock))
    sock.on('error', () => {})
    let head = ''
    const onData = (d: Buffer) => {
      head += d.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      sock.off('data', onData)
      requests.push(head.slice(0, end + 4))
      answer(sock)
    }
    sock.on('data', onData)
  })
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject)
    srv.listen({port: 0, host}, () => resolve())
  })
  const f: Fixture = {
    port: (srv.address() as {port: number}).port,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of socks) s.destroy()
      srv.close(() => resolve())
    }),
  }
  servers.push(f)
  return f
}

const sends = (text: string | Buffer) => (sock: Socket) => sock.end(typeof text === 'string' ? Buffer.from(text, 'latin1') : text)
const sendsAndStalls = (text: string) => (sock: Socket) => sock.write(Buffer.from(text, 'latin1'))
const silent = () => {}
const sendsAndResets = (text: string) => (sock: Socket) => (text ? sock.write(Buffer.from(text, 'latin1'), () => sock.resetAndDestroy()) : sock.resetAndDestroy())

/** A port that was bound and is closed again: nothing listens there. */
async function closedPort(): Promise<number> {
  const f = await fixture(silent)
  await f.close()
  servers.splice(servers.indexOf(f), 1)
  return f.port
}

const without = <T extends {ms: number}>(r: T): Omit<T, 'ms'> & {detail?: string} => {
  const {ms: _ms, ...rest} = r
  const d = (rest as {detail?: string}).detail
  return d === undefined ? rest : {...rest, detail: d.replace(/ in \d+ms$/, ' in Nms')}
}

const VIA = ['raw handle', 'node:http'] as const
type Via = (typeof VIA)[number]

function forceNode(via: Via): () => void {
  const before = process.env.NODE_PENDING_DEPRECATION
  if (via === 'node:http') process.env.NODE_PENDING_DEPRECATION = '1'
  return () => {
    if (before === undefined) delete process.env.NODE_PENDING_DEPRECATION
    else process.env.NODE_PENDING_DEPRECATION = before
  }
}

describe.each(VIA)('the probe via %s', (via) => {
  let restore: () => void
  beforeEach(() => {
    restore = forceNode(via)
  })
  afterEach(() => restore())
  const http = (url: string, timeoutMs = 5000) => prober.http(url, timeoutMs, [200, 399])

  it('takes the path it is meant to: an IP literal on the raw handle unless forced off; a name, https or credentials never', async () => {
    const f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    const raw = rawHttpGet(`http://127.0.0.1:${f.port}/health`, 5000)
    expect(raw !== null).toBe(via === 'raw handle')
    await raw
    expect(rawTcpProbe('127.0.0.1', f.port, 5000) !== null).toBe(via === 'raw handle')
    for (const url of [`http://localhost:${f.port}/`, `https://127.0.0.1:${f.port}/`, `http://u:p@127.0.0.1:${f.port}/`, 'not a url', `http://127.0.0.1:0/`]) expect(rawHttpGet(url, 5000)).toBeNull()
    for (const host of ['localhost', '127.1', '010.0.0.1', 'fe80::1%lo', '::1x']) expect(rawTcpProbe(host, f.port, 5000)).toBeNull()
  })

  it.each([
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}', 200],
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\n', 200],
    ['close-delimited', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nup', 200],
    ['HTTP/1.0 close-delimited', 'HTTP/1.0 200 OK\r\n\r\nup', 200],
    ['204', 'HTTP/1.1 204 No Content\r\n\r\n', 204],
    ['100 then 200', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200],
    ['103 then 200', 'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200],
    ['302', 'HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n', 302],
  ])('%s: healthy, HTTP <status> in N ms', async (_, text, status) => {
    const f = await fixture(sends(text))
    const r = await http(`http://127.0.0.1:${f.port}/health`)
    expect(without(r)).toEqual({kind: 'ok', ok: true, status, detail: `HTTP ${status} in Nms`})
    expect(r.detail).toBe(`HTTP ${status} in ${r.ms}ms`)
  })

  it('500 is an http-error', async () => {
    const f = await fixture(sends('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops'))
    expect(without(await http(`http://127.0.0.1:${f.port}/health`))).toEqual({kind: 'http-error', ok: false, status: 500, detail: 'HTTP 500 in Nms'})
  })

  it('sends the same request: GET <path+query> HTTP/1.1, user-agent, Host with its port, Connection: close', async () => {
    const f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    await http(`http://127.0.0.1:${f.port}/health/deep?probe=1&x=%20#frag`)
    expect(f.requests).toEqual([`GET /health/deep?probe=1&x=%20 HTTP/1.1\r\nuser-agent: medic\r\nHost: 127.0.0.1:${f.port}\r\nConnection: close\r\n\r\n`])
  })

  it('a port nothing listens on is refused', async () => {
    const port = await closedPort()
    expect(without(await http(`http://127.0.0.1:${port}/health`))).toEqual({kind: 'refused', ok: false, detail: 'connection refused'})
    expect(without(await prober.tcp('127.0.0.1', port, 5000))).toEqual({kind: 'refused', ok: false, detail: 'connection refused'})
  })

  it('a server that accepts and never answers times out at the probe timeout', async () => {
    const f = await fixture(silent)
    expect(without(await http(`http://127.0.0.1:${f.port}/health`, 200))).toEqual({kind: 'timeout', ok: false, detail: `no answer within ${formatMs(200)}`})
  })

  it('headers then a stalled body time out: an answer counts once its body has ended', async () => {
    for (const text of ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n', 'HTTP/1.1 200 OK\r\n\r\nuntil EOF', 'HTTP/1.1 200 OK\r\nContent-Le']) {
      const f = await fixture(sendsAndStalls(text))
      expect(without(await http(`http://127.0.0.1:${f.port}/health`, 200))).toEqual({kind: 'timeout', ok: false, detail: `no answer within ${formatMs(200)}`})
    }
  })

  it('never waits past the command\'s --timeout, and says so', async () => {
    const f = await fixture(silent)
    setDeadline(monotonicMs() + 150, 150)
    try {
      expect(without(await http(`http://127.0.0.1:${f.port}/health`, 60_000))).toEqual({kind: 'timeout', ok: false, detail: `no answer within --timeout ${formatMs(150)}`})
    } finally {
      setDeadline(null)
    }
  })

  it('a server that resets, before or inside the answer, is an error', async () => {
    const before = await fixture(sendsAndResets(''))
    expect(without(await http(`http://127.0.0.1:${before.port}/health`))).toEqual({kind: 'error', ok: false, detail: 'ECONNRESET: read ECONNRESET'})
    // With part of the body still unread when the RST lands, Linux reports end-of-file
    // (the socket is done) rather than ECONNRESET: the body stopped short either way.
    const inside = await fixture(sendsAndResets('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'))
    const r = await http(`http://127.0.0.1:${inside.port}/health`)
    expect(r).toMatchObject({kind: 'error', ok: false})
    expect(['aborted', 'ECONNRESET: read ECONNRESET']).toContain(r.detail)
  })

  it('a server that closes before a whole head hung up; inside a body, aborted', async () => {
    for (const text of ['', 'HTTP/1.1 200 OK\r\nContent-Le']) {
      const f = await fixture(sends(text))
      expect(without(await http(`http://127.0.0.1:${f.port}/health`))).toEqual({kind: 'error', ok: false, detail: 'ECONNRESET: socket hang up'})
    }
    const f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'))
    expect(without(await http(`http://127.0.0.1:${f.port}/health`))).toEqual({kind: 'error', ok: false, detail: 'aborted'})
  })

  it('a huge body is read to its end', async () => {
    const body = Buffer.alloc(16 * 1024 * 1024, 'x')
    const f = await fixture(sends(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body])))
    expect(without(await http(`http://127.0.0.1:${f.port}/health`))).toEqual({kind: 'ok', ok: true, status: 200, detail: 'HTTP 200 in Nms'})
  })

  it('an IPv6 literal', async (ctx) => {
    let f: Fixture
    try {
      f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), '::1')
    } catch (e) {
      console.log(`skipped: no IPv6 loopback on this host (${(e as Error).message})`)
      return ctx.skip()
    }
    expect(rawHttpGet(`http://[::1]:${f.port}/health`, 5000) !== null).toBe(via === 'raw handle')
    expect(without(await http(`http://[::1]:${f.port}/health`))).toEqual({kind: 'ok', ok: true, status: 200, detail: 'HTTP 200 in Nms'})
    expect(f.requests.at(-1)).toContain(`\r\nHost: [::1]:${f.port}\r\n`)
    expect(without(await prober.tcp('::1', f.port, 5000))).toEqual({kind: 'ok', ok: true, detail: 'TCP connect in Nms'})
    const port = f.port
    await f.close()
    expect(without(await http(`http://[::1]:${port}/health`))).toEqual({kind: 'refused', ok: false, detail: 'connection refused'})
  })

  it('a name (localhost) goes through node:http either way', async () => {
    const f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    expect(without(await http(`http://localhost:${f.port}/health`))).toEqual({kind: 'ok', ok: true, status: 200, detail: 'HTTP 200 in Nms'})
    expect(without(await prober.tcp('localhost', f.port, 5000))).toEqual({kind: 'ok', ok: true, detail: 'TCP connect in Nms'})
  })

  it('--tcp: a listener is a connect', async () => {
    const f = await fixture(silent)
    const r = await prober.tcp('127.0.0.1', f.port, 5000)
    expect(without(r)).toEqual({kind: 'ok', ok: true, detail: 'TCP connect in Nms'})
    expect(r.detail).toBe(`TCP connect in ${r.ms}ms`)
  })
})

// Responses at the edges of the framing, each sent as it is and read by both clients:
// the raw one must say exactly what node:http says (and src/core/http-response.ts's
// reasons are llhttp's). Bytes after a complete answer are left out: node:http fails the
// answer when they arrive in the same read as its end, the raw client has its answer.
const EDGES: Record<string, string> = {
  noReason: 'HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok',
  status099: 'HTTP/1.1 099 X\r\nContent-Length: 2\r\n\r\nok',
  status999: 'HTTP/1.1 999 X\r\nContent-Length: 2\r\n\r\nok',
  s101: 'HTTP/1.1 101 Switching\r\nUpgrade: x\r\nContent-Length: 2\r\n\r\nok',
  s102: 'HTTP/1.1 102 P\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  s100x2: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n',
  s199body: 'HTTP/1.1 199 X\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  s304: 'HTTP/1.1 304 NM\r\nContent-Length: 5\r\n\r\n',
  leadingCRLF: '\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  v09: 'HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok',
  v20: 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
  v12: 'HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok',
  v11x: 'HTTP/1.10 200 OK\r\n\r\n',
  lower: 'http/1.1 200 OK\r\n\r\n',
  garbage: 'hello',
  bareLF: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  mixedLF: 'HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok',
  crOnly: 'HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nok',
  crInValue: 'HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\nok',
  endCRnoLF: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rXok',
  obsFold: 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok',
  spColon: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
  noColon: 'HTTP/1.1 200 OK\r\nfoo\r\nContent-Length: 2\r\n\r\nok',
  ctl: 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok',
  obstext: 'HTTP/1.1 200 OK\r\nX-A: a\xe9b\r\nContent-Length: 2\r\n\r\nok',
  nameObs: 'HTTP/1.1 200 OK\r\nX\xe9: 1\r\nContent-Length: 2\r\n\r\nok',
  dupCLsame: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
  dupCLdiff: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok',
  clList: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok',
  clEmpty: 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok',
  clSpace: 'HTTP/1.1 200 OK\r\nContent-Length:  2 \r\n\r\nok',
  clTab: 'HTTP/1.1 200 OK\r\nContent-Length:\t2\t\r\n\r\nok',
  clHuge: 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok',
  clThenTE: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  teThenCL: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  teGzip: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nokok',
  teChunkedThenGzip: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  teCase: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip , Chunked \r\n\r\n2\r\nok\r\n0\r\n\r\n',
  chunkExt: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b;c="d \\" e"\r\nok\r\n0;z\r\nX-T: 1\r\n\r\n',
  chunkSp: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n',
  chunkEmpty: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nok\r\n0\r\n\r\n',
  chunk0x: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n',
  chunkHuge: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n',
  chunkExtSp: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2; x = y\r\nok\r\n0\r\n\r\n',
  chunkExtCtl: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=\x01\r\nok\r\n0\r\n\r\n',
  chunkLong: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n',
  chunkLF: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n',
  trailerBad: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n',
  eofInChunks: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n',
  eofInTrailers: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n',
  eofAfter100: 'HTTP/1.1 100 Continue\r\n\r\n',
  headerUnderLimit: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(16383 - 18)}\r\nContent-Length: 2\r\n\r\nok`,
  headerAtLimit: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(16384 - 18)}\r\nContent-Length: 2\r\n\r\nok`,
  reasonAtLimit: `HTTP/1.1 200 ${'r'.repeat(16384 - 15)}\r\nContent-Length: 2\r\n\r\nok`,
  trailerUnderLimit: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'a'.repeat(16382)}\r\n\r\n`,
  trailerAtLimit: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'a'.repeat(16383)}\r\n\r\n`,
  manyHeaders: `HTTP/1.1 200 OK\r\n${'X: a\r\n'.repeat(3000)}Content-Length: 2\r\n\r\nok`,
  utf8: `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength('état ✓')}\r\n\r\n${Buffer.from('état ✓').toString('latin1')}`,
}

describe('the raw client says what node:http says', () => {
  const through = async (via: Via, url: string): Promise<HttpResult> => {
    const restore = forceNode(via)
    try {
      return await (via === 'raw handle' ? rawHttpGet(url, 5000)! : httpJson('GET', url, 5000))
    } finally {
      restore()
    }
  }
  it.each(Object.keys(EDGES))('%s', async (name) => {
    const f = await fixture(sends(EDGES[name]))
    const url = `http://127.0.0.1:${f.port}/health`
    const [raw, node] = [await through('raw handle', url), await through('node:http', url)]
    expect(without(raw)).toEqual(without(node))
  })
})

describe('a handle that does not behave as this node\'s', () => {
  it('leaves the request to node:http / node:net when it throws before anything is sent', async () => {
    const f = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    const p = process as unknown as {binding(name: string): Record<string, unknown>}
    const real = p.binding
    p.binding = (name: string) => {
      const b = real.call(process, name)
      if (name !== 'tcp_wrap') return b
      const TCP = b.TCP as new (t: number) => object
      return {...b, TCP: class extends TCP {
        connect(): number {
          throw new TypeError('not this node')
        }
      }}
    }
    try {
      expect(rawHttpGet(`http://127.0.0.1:${f.port}/health`, 5000)).toBeNull()
      expect(rawTcpProbe('127.0.0.1', f.port, 5000)).toBeNull()
      expect(without(await prober.http(`http://127.0.0.1:${f.port}/health`, 5000, [200, 399]))).toEqual({kind: 'ok', ok: true, status: 200, detail: 'HTTP 200 in Nms'})
      expect(without(await prober.tcp('127.0.0.1', f.port, 5000))).toEqual({kind: 'ok', ok: true, detail: 'TCP connect in Nms'})
    } finally {
      p.binding = real
    }
  })
})

describe('the handle is closed on every path', () => {
  it.each(VIA)('via %s, a process that probed (answer, timeout, refusal, reset, stall) exits by itself, quietly', async (via) => {
    const ok = await fixture(sends('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    const never = await fixture(silent)
    const stall = await fixture(sendsAndStalls('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf'))
    const reset = await fixture(sendsAndResets(''))
    const refused = await closedPort()
    const script = `
      const {prober} = await import(${JSON.stringify(join(ROOT, 'dist/sys/probe.js'))})
      const out = []
      for (const port of ${JSON.stringify([ok.port, never.port, stall.port, reset.port, refused])}) {
        out.push((await prober.http('http://127.0.0.1:' + port + '/health', 200, [200, 399])).kind)
        out.push((await prober.tcp('127.0.0.1', port, 200)).kind)
      }
      console.log(out.join(' '))`
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...(via === 'node:http' ? {NODE_PENDING_DEPRECATION: '1'} : {})}})
    j.child(c)
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    const code = await new Promise((resolve) => c.on('close', resolve))
    expect(stderr).toBe('') // no deprecation warning either
    expect(stdout.trim()).toBe('ok ok timeout ok timeout ok error ok refused refused')
    expect(code).toBe(0)
  })
})
