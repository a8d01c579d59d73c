/**
 * An incremental HTTP/1.1 *response* parser for medic's own probe client (sys/raw-http.ts):
 * bytes in, a step out — need more, the answer (status and the first bytes of the body,
 * once the body has ended), or an error. Pure: no sockets, no clock.
 *
 * Written here rather than taken from node:http because loading node:http (with node:net
 * and its streams) is ~3.7 ms of a ~20 ms start-up budget that every cron line and
 * healthcheck run of `medic health` pays (docs/startup.md, issue 16; measured). It accepts
 * and rejects what node's own parser (llhttp, strict, as node:http runs it) does for the
 * framings a health endpoint uses, and reports llhttp's error codes and reasons, so a probe
 * says the same through either client (test/sys/raw-http.test.ts compares them case by case):
 *
 * - a status line `HTTP/x.y NNN reason` (0.9, 1.0, 1.1, 2.0; three digits; the reason may be
 *   empty); CRLF line ends only; obs-fold and invalid header characters are errors;
 * - 1xx interim responses (100, 102, 103 …, never a body) are skipped and the next parsed;
 *   101 is the answer, without a body, as node reports it — unless the answer says
 *   `Connection: upgrade`: then it is an upgrade node's client never answers for (no answer);
 * - 204, 304: no body whatever the headers say;
 * - `Transfer-Encoding` ending in `chunked`: chunks (hex size, `;ext`, trailers, `0\r\n\r\n`);
 *   any other transfer coding: the body runs to EOF;
 * - `Content-Length`: exactly that many bytes; a second Content-Length (even an equal one),
 *   or one beside Transfer-Encoding, is an error, as in llhttp;
 * - neither: the body runs to EOF (the request says `Connection: close`), i.e. `end()`.
 *
 * An answer counts once its body has ended: EOF inside a body that has a length is an error
 * (node:http's `aborted`), EOF before a whole head is `socket hang up`. Bytes after the end
 * of the answer that came with it (in the same read) fail it as node's parser does, reading
 * them as the next message: `Expected HTTP/` (`Data after Connection: close` after one);
 * Content-Length in the trailers is an error; an empty Transfer-Encoding is none; an empty
 * chunk-extension value passes. Memory stays bounded: a head over `maxHeadBytes` (1 MiB), or with
 * `maxHeaderBytes` (16 KiB) or more of names, values and reason (node's
 * --max-http-header-size count), is an error; of the body only the first `maxBodyBytes` are kept.
 */

export type ResponseStep =
  | {kind: 'more'}
  | {kind: 'done'; status: number; bodyText: string; ended: true}
  | {kind: 'error'; code: string; reason: string}

export interface ResponseParserOptions {
  /** Bytes of status reason, header names and values in one response's head (of its trailers, afresh) at which it fails: node's --max-http-header-size count. */
  maxHeaderBytes?: number
  /** Raw bytes of one response's head, line ends and whitespace included. */
  maxHeadBytes?: number
  /** Body bytes kept for `bodyText`; the rest is read and dropped. */
  maxBodyBytes?: number
}

/** The peer closed before a whole head arrived (node:http: ECONNRESET `socket hang up`). */
export const HANG_UP = 'HANG_UP'
/** The peer closed inside a body with a length (node:http: the response's `aborted`). */
export const ABORTED = 'ABORTED'

const MORE: ResponseStep = {kind: 'more'}
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/
// HTAB, visible ASCII, space, obs-text (latin1 text of the bytes)
const VALUE_BAD = /[^\t\x20-\x7e\x80-\xff]/
const VERSIONS = new Set(['0.9', '1.0', '1.1', '2.0'])

type Phase = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'eof' | 'upgraded'

export class HttpResponseParser {
  private readonly maxHeaderBytes: number
  private readonly maxHeadBytes: number
  private readonly maxBodyBytes: number
  /** Bytes not consumed yet (latin1: one char per byte). */
  private buf = ''
  /** How far `buf` has been searched for a line end. */
  private scanned = 0
  private phase: Phase = 'head'
  private result: ResponseStep = MORE
  // the response being read
  private status = -1
  private headerBytes = 0
  private headBytes = 0
  private contentLength: number | null = null
  private codings: string[] | null = null
  /** The answer said `Connection: close`: bytes after it are node's HPE_CLOSED_CONNECTION. */
  private closeAfter = false
  /** …and `Connection: upgrade` (a 101 then is an upgrade). */
  private upgradeAsked = false
  private remaining = 0
  private body: string[] = []
  private kept = 0

  constructor(o: ResponseParserOptions = {}) {
    this.maxHeaderBytes = o.maxHeaderBytes ?? 16 * 1024
    this.maxHeadBytes = o.maxHeadBytes ?? 1024 * 1024
    this.maxBodyBytes = o.maxBodyBytes ?? 64 * 1024
  }

  /** The next bytes from the peer. Once done or failed, that step is returned again. */
  feed(chunk: Uint8Array | string): ResponseStep {
    if (this.result.kind !== 'more') return this.result
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1')
    this.buf = this.buf.length === 0 ? s : this.buf + s
    this.run()
    return this.result
  }

  /** The peer closed its side: a body running to EOF ends here; anything else unfinished fails. */
  end(): ResponseStep {
    if (this.result.kind !== 'more' || this.phase === 'upgraded') return this.result
    if (this.phase === 'eof') return this.finish()
    if (this.phase === 'head') this.fail(HANG_UP, 'socket hang up')
    else this.fail(ABORTED, 'aborted')
    return this.result
  }

  private run(): void {
    while (this.result.kind === 'more') {
      switch (this.phase) {
        case 'head':
        case 'trailers':
        case 'chunk-size': {
          const line = this.line()
          if (line === null) return
          if (this.phase === 'head') this.headLine(line)
          else if (this.phase === 'trailers') this.trailerLine(line)
          else this.chunkSize(line)
          break
        }
        case 'length':
        case 'chunk-data': {
          if (this.buf.length === 0) return
          const n = Math.min(this.remaining, this.buf.length)
          this.keep(n)
          this.remaining -= n
          if (this.remaining > 0) return
          if (this.phase === 'length') this.finish()
          else this.phase = 'chunk-end'
          break
        }
        case 'chunk-end': {
          if (this.buf.length === 0) return
          if (this.buf[0] !== '\r') return void this.fail(this.buf[0] === '\n' ? 'HPE_CR_EXPECTED' : 'HPE_STRICT', this.buf[0] === '\n' ? 'Missing expected CR after chunk data' : 'Expected LF after chunk data')
          if (this.buf.length < 2) return
          if (this.buf[1] !== '\n') return void this.fail('HPE_STRICT', 'Expected LF after chunk data')
          this.drop(2)
          this.phase = 'chunk-size'
          break
        }
        case 'eof':
          if (this.buf.length === 0) return
          this.keep(this.buf.length)
          return
        case 'upgraded':
          this.buf = ''
          return
      }
    }
  }

  /** The next CRLF-terminated line of `buf` (without its CRLF), or null when it has not all arrived. */
  private line(): string | null {
    const from = this.scanned
    const nl = this.buf.indexOf('\n', from)
    if (nl < 0) {
      this.scanned = this.buf.length
      const cr = this.buf.indexOf('\r', Math.max(0, from - 1))
      if (cr >= 0 && cr < this.buf.length - 1) this.badLineEnd(false)
      else this.partial()
      return null
    }
    if (nl === 0 || this.buf[nl - 1] !== '\r') return this.badLineEnd(true), null
    const line = this.buf.slice(0, nl - 1)
    if (line.includes('\r')) return this.badLineEnd(false), null
    if (this.phase !== 'chunk-size') {
      this.headBytes += nl + 1
      if (this.headBytes > this.maxHeadBytes) return this.fail('HPE_HEADER_OVERFLOW', 'Header overflow'), null
    }
    this.drop(nl + 1)
    return line
  }

  /** A lone LF (`missingCr`) or a CR followed by something other than LF, as llhttp names them where it is. */
  private badLineEnd(missingCr: boolean): void {
    // A CR inside a header's name: llhttp reads the name char by char and stops there.
    const cr = this.buf.indexOf('\r')
    if (!missingCr && cr > 0 && ((this.phase === 'head' && this.status >= 0) || this.phase === 'trailers') && !this.buf.slice(0, cr).includes(':')) return this.fail('HPE_INVALID_HEADER_TOKEN', 'Invalid header token')
    const where = this.phase === 'chunk-size' ? 'chunk size' : this.phase === 'head' && this.status < 0 ? 'response line' : this.phase === 'head' && this.buf.startsWith('\r') ? 'headers' : 'header value'
    if (missingCr) this.fail('HPE_CR_EXPECTED', `Missing expected CR after ${where}`)
    else if (where === 'header value') this.fail('HPE_LF_EXPECTED', 'Missing expected LF after header value')
    else this.fail('HPE_STRICT', where === 'headers' ? 'Expected LF after headers' : 'Expected LF after CR')
  }

  /** What can be told of a line still arriving: a wrong start of the status line at once (as llhttp does), and the size caps. */
  private partial(): void {
    const b = this.buf
    if (this.phase === 'head' && this.status < 0 && b.length > 0 && b[0] !== '\r') {
      const n = Math.min(5, b.length)
      if (b.slice(0, n) !== 'HTTP/'.slice(0, n)) return this.fail('HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/')
    }
    if (this.phase === 'chunk-size') {
      if (b.length > this.maxHeadBytes) this.fail('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'Chunk extensions overflow')
    } else if (this.headBytes + b.length > this.maxHeadBytes || b.length > this.maxHeaderBytes + 4) {
      this.fail('HPE_HEADER_OVERFLOW', 'Header overflow')
    }
  }

  private headLine(line: string): void {
    if (this.status < 0) {
      if (line === '') return // llhttp skips empty lines before a message
      return this.statusLine(line)
    }
    if (line !== '') return this.header(line, false)
    // the end of the head
    const st = this.status
    // 101 with `Connection: upgrade`: an upgrade, which node's client answers with nothing (no
    // 'upgrade' listener): the probe waits out its timeout, as it did. Without it, 101 is an answer.
    if (st === 101 && this.upgradeAsked) return void (this.phase = 'upgraded')
    if (st >= 100 && st < 200 && st !== 101) return this.restart() // interim: the answer follows
    if ((st >= 100 && st < 200) || st === 204 || st === 304) return void this.finish()
    const c = this.codings
    if (c && c[c.length - 1] === 'chunked') this.phase = 'chunk-size'
    else if (c) this.phase = 'eof'
    else if (this.contentLength === null) this.phase = 'eof'
    else if (this.contentLength === 0) this.finish()
    else {
      this.remaining = this.contentLength
      this.phase = 'length'
    }
  }

  private statusLine(line: string): void {
    if (!line.startsWith('HTTP/')) return this.fail('HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/')
    const version = line.slice(5, 8)
    if (!/^\d\.\d$/.test(version) || !VERSIONS.has(version)) return this.fail('HPE_INVALID_VERSION', 'Invalid HTTP version')
    if (line[8] !== ' ') return this.fail('HPE_INVALID_VERSION', 'Expected space after version')
    if (!/^\d{3}$/.test(line.slice(9, 12))) return this.fail('HPE_INVALID_STATUS', 'Invalid status code')
    if (line.length > 12 && line[12] !== ' ') return this.fail('HPE_INVALID_STATUS', 'Invalid response status')
    this.headerBytes += Math.max(0, line.length - 13)
    if (this.headerBytes >= this.maxHeaderBytes) return this.fail('HPE_HEADER_OVERFLOW', 'Header overflow')
    this.status = Number(line.slice(9, 12))
  }

  /** One `name: value` line of the head or the trailers; null when it is malformed (already failed). */
  private field(line: string): {name: string; value: string} | null {
    if (line[0] === ' ' || line[0] === '\t') return this.fail('HPE_INVALID_HEADER_TOKEN', 'Unexpected whitespace after header value'), null
    const colon = line.indexOf(':')
    const name = colon < 0 ? line : line.slice(0, colon)
    if (colon <= 0 || !TOKEN.test(name)) {
      let i = 0
      while (i < name.length && TOKEN_CHAR.test(name[i])) i++
      const fieldChar = i > 0 && colon > 0 && /^[ \t]+$/.test(name.slice(i))
      return this.fail('HPE_INVALID_HEADER_TOKEN', fieldChar ? 'Invalid header field char' : 'Invalid header token'), null
    }
    const raw = line.slice(colon + 1).replace(/^[ \t]+/, '')
    if (VALUE_BAD.test(raw)) return this.fail('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char'), null
    const value = raw.replace(/[ \t]+$/, '')
    this.headerBytes += name.length + value.length
    if (this.headerBytes >= this.maxHeaderBytes) return this.fail('HPE_HEADER_OVERFLOW', 'Header overflow'), null
    return {name: name.toLowerCase(), value: raw}
  }

  private header(line: string, trailer: boolean): void {
    const f = this.field(line)
    if (!f) return
    if (trailer) {
      if (f.name === 'content-length') this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding")
      return
    }
    if (f.name === 'content-length') {
      if (this.codings) return this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding")
      if (this.contentLength !== null) return this.fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length')
      const m = /^(\d*)( *)$/.exec(f.value)
      if (!m) return this.fail('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length')
      if (m[1] === '') return this.fail('HPE_INVALID_CONTENT_LENGTH', 'Empty Content-Length')
      const n = Number(m[1])
      if (!Number.isSafeInteger(n)) return this.fail('HPE_INVALID_CONTENT_LENGTH', 'Content-Length overflow')
      this.contentLength = n
    } else if (f.name === 'connection') {
      const tokens = f.value.split(',').map((t) => t.trim().toLowerCase())
      if (tokens.includes('close')) this.closeAfter = true
      if (tokens.includes('upgrade')) this.upgradeAsked = true
    } else if (f.name === 'transfer-encoding') {
      if (f.value === '') return // empty: no coding at all (llhttp)
      if (this.contentLength !== null) return this.fail('HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length")
      ;(this.codings ??= []).push(...f.value.split(',').map((t) => t.trim().toLowerCase()))
    }
  }

  private trailerLine(line: string): void {
    if (line === '') return void this.finish()
    this.header(line, true)
  }

  private chunkSize(line: string): void {
    let i = 0
    while (i < line.length && /[0-9a-fA-F]/.test(line[i])) i++
    if (i === 0) return this.fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size')
    const digits = line.slice(0, i).replace(/^0+/, '')
    if (digits.length > 16) return this.fail('HPE_INVALID_CHUNK_SIZE', 'Chunk size overflow')
    if (i < line.length) {
      if (line[i] !== ';') return this.fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size')
      const bad = badExtensions(line.slice(i))
      if (bad) return this.fail('HPE_STRICT', bad)
    }
    const size = digits === '' ? 0 : parseInt(digits, 16)
    if (size === 0) {
      this.headerBytes = 0 // node counts the trailers afresh
      this.phase = 'trailers'
      return
    }
    this.remaining = size
    this.phase = 'chunk-data'
  }

  private keep(n: number): void {
    if (this.kept < this.maxBodyBytes) {
      const part = this.buf.slice(0, Math.min(n, this.maxBodyBytes - this.kept))
      this.body.push(part)
      this.kept += part.length
    }
    this.drop(n)
  }

  private drop(n: number): void {
    this.buf = n >= this.buf.length ? '' : this.buf.slice(n)
    this.scanned = 0
  }

  /** A 1xx interim response is over: the next one is the answer. */
  private restart(): void {
    this.status = -1
    this.headerBytes = 0
    this.headBytes = 0
    this.contentLength = null
    this.codings = null
    this.closeAfter = false
    this.upgradeAsked = false
  }

  private finish(): ResponseStep {
    // Bytes after a whole answer, in the same read: node's parser goes on with them as the next
    // message and fails the answer (a body longer than its Content-Length, a body on a 204 …).
    // (After a 101, llhttp stops: what follows belongs to the upgraded protocol.)
    const rest = this.phase === 'eof' || this.status === 101 ? '' : this.buf.replace(/^[\r\n]+/, '')
    if (rest !== '' && !'HTTP/'.startsWith(rest.slice(0, 5))) {
      if (this.closeAfter) return this.fail('HPE_CLOSED_CONNECTION', 'Data after `Connection: close`'), this.result
      return this.fail('HPE_INVALID_CONSTANT', 'Expected HTTP/, RTSP/ or ICE/'), this.result
    }
    const bodyText = Buffer.from(this.body.join(''), 'latin1').toString('utf8')
    this.body = []
    this.buf = ''
    this.result = {kind: 'done', status: this.status, bodyText, ended: true}
    return this.result
  }

  private fail(code: string, reason: string): void {
    this.body = []
    this.buf = ''
    this.result = {kind: 'error', code, reason}
  }
}

/** What is wrong with a chunk's `;name[=value]…` extensions (llhttp's reason), or null. */
function badExtensions(s: string): string | null {
  let i = 0
  while (i < s.length) {
    if (s[i] !== ';') return 'Invalid character in chunk extensions'
    i++
    const start = i
    while (i < s.length && TOKEN_CHAR.test(s[i])) i++
    if (i === start) return 'Invalid character in chunk extensions'
    if (i === s.length || s[i] === ';') continue
    if (s[i] !== '=') return 'Invalid character in chunk extensions'
    i++
    if (s[i] === '"') {
      i++
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') i++
        else if (VALUE_BAD.test(s[i])) return 'Invalid character in chunk extensions quoted value'
        i++
      }
      if (i >= s.length) return 'Invalid character in chunk extensions quoted value'
      i++
    } else {
      const v = i
      while (i < s.length && TOKEN_CHAR.test(s[i])) i++
      void v
      if (i < s.length && s[i] !== ';') return 'Invalid character in chunk extensions value' // an empty value passes (llhttp)
    }
  }
  return null
}
