import {closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {completeLines, countMatches, dockerSince, parseDockerLogs, parseJournalJson, planFileRead, sourceKey, type FilePos, type LogPosition, type LogSourceSpec, type MatchCount} from '../core/log-match.js'
import {describeExec, run} from './exec.js'

/** What one run read of a service's log. */
export interface LogRead extends MatchCount {
  position: LogPosition
  /** The first run: the position was taken, nothing counted. */
  baseline: boolean
  /** Rotation, truncation, bytes skipped. */
  note: string | null
  /** The source could not be read: nothing could be counted. */
  error: string | null
}

/** At most this much of a file is read per run (the newest part); more is skipped and said. */
const MAX_READ = 16 * 1024 * 1024
const JOURNAL_LINES = '100000'

export interface LogSource {
  read(spec: LogSourceSpec, saved: LogPosition | undefined, re: RegExp, timeoutMs: number): Promise<LogRead>
}

export const logSource: LogSource = {
  async read(spec, saved, re, timeoutMs) {
    const key = sourceKey(spec)
    const mine = saved?.source === key ? saved : undefined
    try {
      if (spec.kind === 'file') return readFile(spec.path, key, mine, re)
      if (spec.kind === 'journal') return await readJournal(spec, key, mine, re, timeoutMs)
      return await readDocker(spec.container, key, mine, re, timeoutMs)
    } catch (e) {
      return {count: 0, sample: null, position: mine ?? {source: key}, baseline: false, note: null, error: (e as Error).message}
    }
  },
}

function readFile(path: string, key: string, saved: LogPosition | undefined, re: RegExp): LogRead {
  let cur: {dev: number; ino: number; size: number} | null = null
  try {
    const st = statSync(path)
    if (!st.isFile()) throw new Error(`${path}: not a regular file`)
    cur = {dev: st.dev, ino: st.ino, size: st.size}
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  if (cur && saved?.file?.tail && saved.file.dev === cur.dev && saved.file.ino === cur.ino && cur.size >= saved.file.offset) {
    Object.assign(cur, {tailMatches: tailAt(path, saved.file.offset) === saved.file.tail})
  }
  const old = saved?.file && cur && (saved.file.ino !== cur.ino || saved.file.dev !== cur.dev) ? findByInode(path, saved.file) : null
  const plan = planFileRead(saved?.file, cur, old !== null)
  if ('baseline' in plan) {
    if (!cur) return {count: 0, sample: null, position: {source: key}, baseline: true, note: null, error: 'no such file'}
    return {count: 0, sample: null, position: {source: key, file: {dev: cur.dev, ino: cur.ino, offset: cur.size, tail: tailAt(path, cur.size)}}, baseline: true, note: null, error: null}
  }
  if (!cur) return {count: 0, sample: null, position: saved!, baseline: false, note: null, error: 'no such file (rotated and not yet recreated?)'}
  const counted: MatchCount = {count: 0, sample: null}
  const notes = plan.note ? [plan.note] : []
  let file: FilePos = {dev: cur.dev, ino: cur.ino, offset: 0}
  for (const seg of plan.segments) {
    const target = seg.which === 'rotated' ? old! : path
    const r = readFrom(target, seg.start)
    countMatches(r.lines, re, counted)
    if (r.skipped) notes.push(`${r.skipped} bytes of ${basename(target)} skipped (over ${MAX_READ} bytes since the last run)`)
    if (seg.which === 'current') file = {dev: r.dev, ino: r.ino, offset: r.end, tail: tailAt(path, r.end)}
  }
  return {...counted, position: {source: key, file}, baseline: false, note: notes.join('; ') || null, error: null}
}

/** Reads complete lines from `start` (at most MAX_READ, the newest part), without following a symlink swapped in. */
function readFrom(path: string, start: number): {lines: string[]; end: number; skipped: number; dev: number; ino: number} {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new Error(`${path}: not a regular file`)
    let from = Math.min(start, st.size)
    let skipped = 0
    if (st.size - from > MAX_READ) {
      skipped = st.size - MAX_READ - from
      from = st.size - MAX_READ
    }
    const buf = Buffer.alloc(st.size - from)
    let got = 0
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got)
      if (n === 0) break
      got += n
    }
    const {lines, used} = completeLines(buf.subarray(0, got))
    // After a skip the first line is a fragment: not counted.
    return {lines: skipped ? lines.slice(1) : lines, end: from + used, skipped, dev: st.dev, ino: st.ino}
  } finally {
    closeSync(fd)
  }
}

/** The (at most) 64 bytes before `offset`, base64: how a later run knows the file was not rewritten under it. */
function tailAt(path: string, offset: number): string {
  const n = Math.min(64, offset)
  if (n === 0) return ''
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const buf = Buffer.alloc(n)
    const got = readSync(fd, buf, 0, n, offset - n)
    return buf.subarray(0, got).toString('base64')
  } finally {
    closeSync(fd)
  }
}

/** The rotated file: the one beside `path` (app.log.1, app.log-20260101 …) with the saved inode. */
function findByInode(path: string, pos: FilePos): string | null {
  const dir = dirname(path)
  const base = basename(path)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return null
  }
  for (const n of names.filter((x) => x !== base && x.startsWith(base.replace(/\.log$/, '')))) {
    try {
      const st = statSync(join(dir, n))
      if (st.isFile() && st.ino === pos.ino && st.dev === pos.dev) return join(dir, n)
    } catch {}
  }
  return null
}

async function readJournal(spec: {unit: string; user: boolean}, key: string, saved: LogPosition | undefined, re: RegExp, timeoutMs: number): Promise<LogRead> {
  const base = ['journalctl', ...(spec.user ? ['--user'] : []), '-u', spec.unit, '--no-pager', '-o', 'json']
  if (!saved || (!saved.cursor && saved.since === undefined)) {
    // The baseline: the newest entry's cursor, or now when the unit logged nothing yet.
    const r = await run([...base, '-n', '1'], {timeoutMs})
    if (r.missing || r.timedOut || r.code !== 0) throw new Error(`journalctl: ${describeExec(r)}`)
    const {cursor} = parseJournalJson(r.stdout)
    return {count: 0, sample: null, position: {source: key, since: Math.floor(Date.now() / 1000), ...(cursor ? {cursor} : {})}, baseline: true, note: null, error: null}
  }
  const started = Math.floor(Date.now() / 1000)
  let note: string | null = null
  let r = await run([...base, '-n', JOURNAL_LINES, ...(saved.cursor ? ['--after-cursor', saved.cursor] : ['--since', `@${saved.since}`])], {timeoutMs})
  if (saved.cursor && saved.since !== undefined && !r.missing && !r.timedOut && r.code !== 0) {
    // The cursor's journal file was rotated away or vacuumed: from the time of that read instead.
    note = `cursor no longer in the journal (${describeExec(r)}): read since ${new Date(saved.since * 1000).toISOString()}`
    r = await run([...base, '-n', JOURNAL_LINES, '--since', `@${saved.since}`], {timeoutMs})
  }
  if (r.missing || r.timedOut || r.code !== 0) throw new Error(`journalctl: ${describeExec(r)}`)
  const {messages, cursor} = parseJournalJson(r.stdout)
  const counted = countMatches(messages, re)
  return {...counted, position: cursor ? {source: key, cursor, since: started} : {...saved, since: saved.cursor ? started : saved.since}, baseline: false, note, error: null}
}

async function readDocker(container: string, key: string, saved: LogPosition | undefined, re: RegExp, timeoutMs: number): Promise<LogRead> {
  const now = Date.now() / 1000
  if (saved?.since === undefined) return {count: 0, sample: null, position: {source: key, since: now}, baseline: true, note: null, error: null}
  const r = await run(['docker', 'logs', '--timestamps', '--since', dockerSince(saved.since), container], {timeoutMs})
  if (r.missing || r.timedOut || r.code !== 0) throw new Error(`docker logs: ${describeExec(r)}`)
  // The service's stdout and stderr both: docker logs splits them onto ours.
  const {messages, last} = parseDockerLogs(`${r.stdout}\n${r.stderr}`, saved.since)
  return {...countMatches(messages, re), position: {source: key, since: last}, baseline: false, note: null, error: null}
}
