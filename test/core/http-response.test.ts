import {describe, expect, it} from 'vitest'
import {ABORTED, HANG_UP, HttpResponseParser, type ResponseParserOptions, type ResponseStep} from '../../src/core/http-response.js'

// The probe client's response parser (src/core/http-response.ts). Every framing is fed
// whole, split at every byte boundary, one byte at a time and in random chunk sizes:
// the answer must not depend on how TCP cut it. Error codes and reasons are llhttp's
// (what node:http reports); test/sys/raw-http.test.ts checks them against node itself.

function run(chunks: (string | Buffer)[], end: boolean, o?: ResponseParserOptions): ResponseStep {
  const p = new HttpResponseParser(o)
  let step: ResponseStep = {kind: 'more'}
  for (const c of chunks) step = p.feed(c)
  return end ? p.end() : step
}

/** A small deterministic PRNG (mulberry32), so a failing cut can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The same bytes cut every way: whole, at each boundary into two, byte by byte, and 20 random cuttings; as Buffers and as latin1 strings. */
function cuttings(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]]
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)])
  out.push([...bytes].map((b) => Buffer.from([b])))
  const r = rng(bytes.length)
  for (let k = 0; k < 20; k++) {
    const cut: Buffer[] = []
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(r() * 9)
      cut.push(bytes.subarray(i, i + n))
      i += n
    }
    out.push(cut)
  }
  return out
}

function expectEveryCut(text: string | Buffer, end: boolean, want: ResponseStep): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text
  for (const cut of cuttings(bytes)) {
    expect(run(cut, end), `cut ${cut.map((c) => c.length).join('+')}`).toEqual(want)
    expect(run(cut.map((c) => c.toString('latin1')), end)).toEqual(want)
  }
}

const done = (status: number, bodyText = ''): ResponseStep => ({kind: 'done', status, bodyText, ended: true})
const error = (code: string, reason: string): ResponseStep => ({kind: 'error', code, reason})

describe('framings, cut at every byte', () => {
  it.each([
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}', done(200, '{"ok":true}')],
    ['Content-Length: 0', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', done(200)],
    ['Content-Length with leading zeros and trailing spaces, any case', 'HTTP/1.1 503 Busy\r\ncontent-LENGTH:  002  \r\n\r\nno', done(503, 'no')],
    ['chunked, with extensions and trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c="d \\" e"\r\nhello\r\nA\r\n, world!!!\r\n0;x\r\nX-Trailer: 1\r\nY: 2\r\n\r\n', done(200, 'hello, world!!!')],
    ['chunked, upper-case hex, leading zeros, no trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked \r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n', done(200, '0123456789')],
    ['204 ignores a Content-Length', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', done(204)],
    ['304 ignores chunked', 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', done(304)],
    ['100 Continue, then the answer', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', done(200, 'ok')],
    ['103 Early Hints with headers, then the answer', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', done(201, 'ok')],
    ['several interim responses; a 1xx has no body whatever it says', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nContent-Length: 0\r\n\r\n\r\nHTTP/1.1 204 No\r\n\r\n', done(204)],
    ['101 is the answer, without a body', 'HTTP/1.1 101 Switching Protocols\r\nContent-Length: 2\r\n\r\nok', done(101)],
    ['empty lines before the status line', '\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', done(200, 'ok')],
    ['no reason phrase', 'HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok', done(200, 'ok')],
    ['obs-text and tabs in values, an empty value', 'HTTP/1.1 200 OK\r\nX-A: a\xe9\tb\r\nX-B:\r\nContent-Length: 2\r\n\r\nok', done(200, 'ok')],
    ['a next answer after the answer is left alone (node parses it as the next message)', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 X\r\n\r\n', done(200, 'ok')],
  ] as const)('%s', (_, text, want) => {
    expectEveryCut(text, false, want)
    expectEveryCut(text, true, want) // the peer closing after the answer changes nothing
  })

  it('a body without a length runs to EOF: not an answer until the peer closes', () => {
    for (const text of ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nup and running', 'HTTP/1.0 200 OK\r\n\r\nup and running', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nup and running', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nup and running']) {
      expectEveryCut(text, false, {kind: 'more'})
      expectEveryCut(text, true, done(200, 'up and running'))
    }
    expectEveryCut('HTTP/1.1 500 Oops\r\n\r\n', true, done(500))
  })

  it('decodes the body as UTF-8 however its characters were cut', () => {
    const body = 'état: grün ✓ 🙂'
    const n = Buffer.byteLength(body)
    expectEveryCut(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n\r\n`), Buffer.from(body)]), false, done(200, body))
    expectEveryCut(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${n.toString(16)}\r\n`), Buffer.from(body), Buffer.from('\r\n0\r\n\r\n')]), false, done(200, body))
  })

  it('returns the same step again once done, whatever follows', () => {
    const p = new HttpResponseParser()
    expect(p.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).toEqual(done(200))
    expect(p.feed('\x00\x01garbage')).toEqual(done(200))
    expect(p.end()).toEqual(done(200))
  })
})

describe('an answer counts once its body has ended', () => {
  it.each([
    ['nothing at all', ''],
    ['part of a status line', 'HTTP/1.1 20'],
    ['part of the headers', 'HTTP/1.1 200 OK\r\nContent-Le'],
    ['the headers without the blank line', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'],
    ['an interim response only', 'HTTP/1.1 100 Continue\r\n\r\n'],
  ])('the peer closing after %s is a hang-up', (_, text) => {
    expectEveryCut(text, false, {kind: 'more'})
    expect(run([text], true)).toEqual(error(HANG_UP, 'socket hang up'))
  })

  it.each([
    ['part of a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok'],
    ['the headers of a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'],
    ['some chunks but not the last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n'],
    ['part of a chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok'],
    ['the last chunk but not the end of the trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n'],
    ['the last chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'],
  ])('headers and %s: still waiting (a stall), and aborted when the peer closes', (_, text) => {
    expectEveryCut(text, false, {kind: 'more'})
    expect(run([text], true)).toEqual(error(ABORTED, 'aborted'))
  })
})

describe('malformed responses fail with llhttp\'s code and reason', () => {
  it.each([
    ['not HTTP at all', 'hello\r\n\r\n', 'HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'],
    ['lower-case http', 'http/1.1 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n', 'HPE_INVALID_VERSION', 'Invalid HTTP version'],
    ['HTTP/3.0', 'HTTP/3.0 200 OK\r\n\r\n', 'HPE_INVALID_VERSION', 'Invalid HTTP version'],
    ['HTTP/1.10', 'HTTP/1.10 200 OK\r\n\r\n', 'HPE_INVALID_VERSION', 'Expected space after version'],
    ['a tab after the version', 'HTTP/1.1\t200 OK\r\n\r\n', 'HPE_INVALID_VERSION', 'Expected space after version'],
    ['two digits of status', 'HTTP/1.1 20 OK\r\n\r\n', 'HPE_INVALID_STATUS', 'Invalid status code'],
    ['two spaces before the status', 'HTTP/1.1  200 OK\r\n\r\n', 'HPE_INVALID_STATUS', 'Invalid status code'],
    ['four digits of status', 'HTTP/1.1 2000 OK\r\n\r\n', 'HPE_INVALID_STATUS', 'Invalid response status'],
    ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'HPE_CR_EXPECTED', 'Missing expected CR after response line'],
    ['a bare LF after a header', 'HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n', 'HPE_CR_EXPECTED', 'Missing expected CR after header value'],
    ['a CR alone in the status line', 'HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', 'HPE_STRICT', 'Expected LF after CR'],
    ['a CR alone in a value', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', 'HPE_LF_EXPECTED', 'Missing expected LF after header value'],
    ['a CR alone ending the head', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\rX', 'HPE_STRICT', 'Expected LF after headers'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Unexpected whitespace after header value'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header field char'],
    ['a line without a colon', 'HTTP/1.1 200 OK\r\nfoo bar\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header token'],
    ['an empty name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header token'],
    ['obs-text in a name', 'HTTP/1.1 200 OK\r\nX\xe9: 1\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header token'],
    ['a control character in a value', 'HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header value char'],
    ['DEL in a value', 'HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header value char'],
    ['two equal Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length'],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length'],
    ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length'],
    ['a tab after the Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\t\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length'],
    ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH', 'Empty Content-Length'],
    ['a Content-Length past 2^53', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH', 'Content-Length overflow'],
    ['Content-Length, then Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length"],
    ['Transfer-Encoding, then Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding"],
    ['a body on a 1xx (read as the next response)', 'HTTP/1.1 199 X\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'],
    ['a space after a chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'],
    ['an empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nok\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'],
    ['a 0x chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'],
    ['a chunk size past 2^64', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n', 'HPE_INVALID_CHUNK_SIZE', 'Chunk size overflow'],
    ['spaces in a chunk extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2; x = y\r\nok\r\n0\r\n\r\n', 'HPE_STRICT', 'Invalid character in chunk extensions'],
    ['a control character in a chunk extension value', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=\x01\r\nok\r\n0\r\n\r\n', 'HPE_STRICT', 'Invalid character in chunk extensions value'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n', 'HPE_STRICT', 'Expected LF after chunk data'],
    ['bare LF in chunked framing', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n', 'HPE_CR_EXPECTED', 'Missing expected CR after chunk size'],
    ['a malformed trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 'Invalid header token'],
  ])('%s', (_, text, code, reason) => {
    expectEveryCut(text, false, error(code, reason))
    expectEveryCut(text, true, error(code, reason))
  })

  it('tells a response that is not HTTP from its first bytes, without waiting for a line end (as node does)', () => {
    expect(run(['hel'], false)).toEqual(error('HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'))
    expect(run(['H', 'TT', 'X'], false)).toEqual(error('HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'))
    expect(run(['HTTP/'], false)).toEqual({kind: 'more'})
  })
})

describe('bounded memory', () => {
  it('keeps the first 64 KiB of a huge body and reads the rest to its end, in every framing', () => {
    const mib = 'x'.repeat(1024 * 1024)
    const head = 'HTTP/1.1 200 OK\r\n'
    const feedIn = (p: HttpResponseParser, s: string) => {
      let step: ResponseStep = {kind: 'more'}
      for (let i = 0; i < s.length; i += 65536) step = p.feed(s.slice(i, i + 65536))
      return step
    }
    const cl = new HttpResponseParser()
    expect(feedIn(cl, `${head}Content-Length: ${mib.length}\r\n\r\n${mib}`)).toEqual(done(200, mib.slice(0, 65536)))
    const chunked = new HttpResponseParser()
    expect(feedIn(chunked, `${head}Transfer-Encoding: chunked\r\n\r\n${`4000\r\n${'x'.repeat(0x4000)}\r\n`.repeat(64)}0\r\n\r\n`)).toEqual(done(200, mib.slice(0, 65536)))
    const eof = new HttpResponseParser()
    expect(feedIn(eof, `${head}\r\n${mib}`)).toEqual({kind: 'more'})
    expect(eof.end()).toEqual(done(200, mib.slice(0, 65536)))
    expect(run([`${head}Content-Length: 10\r\n\r\n0123456789`], false, {maxBodyBytes: 4})).toEqual(done(200, '0123'))
  })

  it('counts names, values and the reason as node does (fails at 16 KiB; trailers afresh), and caps the raw head at 1 MiB', () => {
    const at = (n: number) => `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(n - 2 - 1 - 14 - 1)}\r\nContent-Length: 2\r\n\r\nok` // reason 2 + name 1 + Content-Length 14 + 1
    expect(run([at(16383)], false)).toEqual(done(200, 'ok'))
    expect(run([at(16384)], false)).toEqual(error('HPE_HEADER_OVERFLOW', 'Header overflow'))
    // many short lines: under node's count, and under the raw cap (1 MiB: only memory's bound) — then over it
    expect(run([`HTTP/1.1 200 OK\r\n${'X:          \r\n'.repeat(5000)}Content-Length: 0\r\n\r\n`], false)).toEqual(done(200))
    expect(run([`HTTP/1.1 200 OK\r\n${'X:                                       \r\n'.repeat(30000)}\r\n`], false)).toEqual(error('HPE_HEADER_OVERFLOW', 'Header overflow'))
    // a line that never ends fails once it is past the limit, not when the peer gives up
    const p = new HttpResponseParser()
    expect(p.feed('HTTP/1.1 200 OK\r\nX: ')).toEqual({kind: 'more'})
    expect(p.feed('a'.repeat(17000))).toEqual(error('HPE_HEADER_OVERFLOW', 'Header overflow'))
    // trailers count too, from 0
    const trailer = (n: number) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'a'.repeat(n)}\r\n\r\n`
    expect(run([trailer(16382)], false)).toEqual(done(200))
    expect(run([trailer(16383)], false)).toEqual(error('HPE_HEADER_OVERFLOW', 'Header overflow'))
    // the count starts again for the answer after an interim response
    expect(run([`HTTP/1.1 103 Early\r\nX: ${'a'.repeat(16000)}\r\n\r\nHTTP/1.1 200 OK\r\nX: ${'a'.repeat(16000)}\r\nContent-Length: 0\r\n\r\n`], false)).toEqual(done(200))
    // many chunks are not a head
    expect(run([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'1\r\nx\r\n'.repeat(20000)}0\r\n\r\n`], false)).toEqual(done(200, 'x'.repeat(20000)))
  })
})
