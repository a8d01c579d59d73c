import {createServer, type Server, type Socket} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {httpJson, type HttpResult} from '../../src/sys/http-json.js'
import {rawHttpGet} from '../../src/sys/raw-http.js'

// Attack on the raw probe client (attacker attack2): answers where src/sys/raw-http.ts +
// core/http-response.ts say something other than node:http (what main's probe said).
// Each case: a server that reads the request head, writes the bytes in one write, ends.
// The left column is what main's health said; every case below differs on ab37e4d.

const servers: {srv: Server; socks: Set<Socket>}[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(({srv, socks}) => new Promise<void>((r) => {
    for (const s of socks) s.destroy()
    srv.close(() => r())
  })))
})

async function serving(bytes: string): Promise<string> {
  const socks = new Set<Socket>()
  const srv = createServer((sock) => {
    socks.add(sock)
    sock.on('error', () => {})
    let head = ''
    sock.on('data', (d) => {
      head += d.toString('latin1')
      if (head.includes('\r\n\r\n')) sock.end(Buffer.from(bytes, 'latin1'))
    })
  })
  servers.push({srv, socks})
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  return `http://127.0.0.1:${(srv.address() as {port: number}).port}/health`
}

const verdict = (r: HttpResult) => (r.kind === 'ok' ? `ok ${r.status}` : `${r.kind} ${r.detail}`)

const CASES: Record<string, string> = {
  // node:http fails these (main: probe failed → UNRESPONSIVE, repaired when a manager is up); raw says 200/204/500 OK
  'a Content-Length shorter than the body': 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{"ok":true}',
  'Content-Length: 0 and a body': 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHELLO',
  'a body on a 204': 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\nJUNK',
  'a space after the body': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok ',
  'data after Connection: close': 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokGARBAGE',
  'bytes after the last chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nJUNK',
  'Content-Length in the trailers': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nContent-Length: 5\r\n\r\n',
  // node:http accepts these (main: GATEWAY_OK); raw fails them (false ALERT)
  'a chunk extension with an empty value': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\r\nok\r\n0\r\n\r\n',
  'an empty Transfer-Encoding beside Content-Length': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 2\r\n\r\nok',
  'a head over 64 KiB of which under 16 KiB counts': `HTTP/1.1 200 OK\r\n${`X:${' '.repeat(20)}a\r\n`.repeat(3000)}Content-Length: 2\r\n\r\nok`,
  'many empty lines before the status line': `${'\r\n'.repeat(40000)}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`,
  // both fail, with different texts
  'a CR inside a header name': 'HTTP/1.1 200 OK\r\nX\r: 1\r\nContent-Length: 2\r\n\r\nok',
  // node:http never answers (an upgrade nobody takes: timeout); raw: HTTP 101
  'a 101 with Upgrade and Connection: upgrade': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
}

describe('the raw probe client says what node:http says (attack2)', () => {
  it.each(Object.keys(CASES))('%s', async (name) => {
    const url = await serving(CASES[name])
    const node = await httpJson('GET', url, 1500)
    const raw = await rawHttpGet(url, 1500)!
    expect(verdict(raw)).toEqual(verdict(node))
  })
})
