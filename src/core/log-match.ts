/**
 * `medic health --log-pattern`: counting the lines a service logged since the last run
 * that match a pattern (seed 001: /health passed while every reply failed with "OAuth
 * token refresh failed"). Pure: where to read from, and what the lines say.
 *
 * A position is remembered between runs (in the health state): a journal cursor, a
 * docker timestamp, or a file's device, inode and offset. The first run only takes the
 * position (nothing before it is counted); every later run counts what came after.
 */

export type LogSourceSpec =
  | {kind: 'journal'; unit: string; user: boolean}
  | {kind: 'docker'; container: string}
  | {kind: 'file'; path: string}

export function sourceKey(s: LogSourceSpec): string {
  return s.kind === 'journal' ? `journal:${s.user ? 'user:' : ''}${s.unit}` : s.kind === 'docker' ? `docker:${s.container}` : `file:${s.path}`
}

export function describeSource(s: LogSourceSpec): string {
  return s.kind === 'journal' ? `journal of ${s.unit}${s.user ? ' (user)' : ''}` : s.kind === 'docker' ? `docker logs of ${s.container}` : s.path
}

export interface FilePos {
  dev: number
  ino: number
  offset: number
  /** The last bytes before `offset` (base64, at most 64): a file truncated and written past the offset again (copytruncate) no longer has them. */
  tail?: string
}

/** Where the last run stopped reading; `source` is the sourceKey it was taken on. */
export interface LogPosition {
  source: string
  /** journal: the cursor of the last entry read. */
  cursor?: string
  /** journal without any entry yet, docker: wall seconds (Unix) read up to. */
  since?: number
  file?: FilePos
}

export interface MatchCount {
  count: number
  /** The last matching line, cut to 200 characters. */
  sample: string | null
}

export function countMatches(lines: Iterable<string>, re: RegExp, into: MatchCount = {count: 0, sample: null}): MatchCount {
  const r = new RegExp(re.source, re.flags.replace(/[gy]/g, ''))
  for (const line of lines) {
    if (r.test(line)) {
      into.count++
      into.sample = line.length > 200 ? line.slice(0, 199) + '…' : line
    }
  }
  return into
}

export type FileSegment = {which: 'rotated' | 'current'; start: number}

/**
 * What to read of a log file, following rotation by inode: the same file from the saved
 * offset (from 0 when it shrank: copytruncate); after a rename rotation, the rest of the
 * old file (found by its inode beside the new one) and the new one from 0.
 */
export function planFileRead(saved: FilePos | undefined, now: {dev: number; ino: number; size: number; tailMatches?: boolean} | null, rotatedFound: boolean): {baseline: true} | {segments: FileSegment[]; note: string | null} {
  if (!saved) return {baseline: true}
  if (!now) return {segments: [], note: null}
  if (now.dev === saved.dev && now.ino === saved.ino) {
    if (now.size < saved.offset || now.tailMatches === false) return {segments: [{which: 'current', start: 0}], note: 'truncated since the last run: read from its start'}
    return {segments: [{which: 'current', start: saved.offset}], note: null}
  }
  if (rotatedFound) return {segments: [{which: 'rotated', start: saved.offset}, {which: 'current', start: 0}], note: 'rotated since the last run: read the rest of the old file, then the new one'}
  return {segments: [{which: 'current', start: 0}], note: 'replaced since the last run and the old file is gone: read the new one from its start'}
}

/** Complete lines of a chunk and how many bytes they take (a line still being written waits for the next run). */
export function completeLines(buf: Buffer): {lines: string[]; used: number} {
  const end = buf.lastIndexOf(0x0a)
  if (end < 0) return {lines: [], used: 0}
  return {lines: buf.subarray(0, end).toString('utf8').split('\n'), used: end + 1}
}

/** `journalctl -o json` lines: each entry's message and cursor. */
export function parseJournalJson(text: string): {messages: string[]; cursor: string | null} {
  const messages: string[] = []
  let cursor: string | null = null
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    let e: {MESSAGE?: unknown; __CURSOR?: unknown}
    try {
      e = JSON.parse(line) as typeof e
    } catch {
      continue
    }
    if (typeof e.__CURSOR === 'string') cursor = e.__CURSOR
    // A message with control bytes comes as an array of bytes.
    if (typeof e.MESSAGE === 'string') messages.push(e.MESSAGE)
    else if (Array.isArray(e.MESSAGE)) messages.push(Buffer.from(e.MESSAGE.filter((b): b is number => typeof b === 'number')).toString('utf8'))
  }
  return {messages, cursor}
}

/** `docker logs --timestamps` lines after `sinceS`: their text and the last timestamp seen (Unix seconds). */
export function parseDockerLogs(text: string, sinceS: number): {messages: string[]; last: number} {
  const messages: string[] = []
  let last = sinceS
  for (const line of text.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z\s?(.*)$/.exec(line)
    if (!m) continue
    const t = Date.parse(`${m[1]}Z`) / 1000 + Number(`0${m[2] ?? ''}`)
    if (!(t > sinceS)) continue
    messages.push(m[3])
    last = Math.max(last, t)
  }
  return {messages, last}
}

/** docker's --since: seconds with a fraction, as it accepts them. */
export function dockerSince(s: number): string {
  return s.toFixed(6)
}
