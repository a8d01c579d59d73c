import {closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {mergeExposition, parseMedicExposition, type ParsedSample} from '../core/metrics-check.js'
import type {Family} from '../core/prom.js'
import {writeFileAtomic} from './state-store.js'

/**
 * Writes one check's series into a Prometheus textfile: the other checks' series in the
 * same file stay (several checks may share a file), the file is replaced atomically (a
 * temporary file in its directory, then rename: node_exporter reads the old or the new
 * file, never half), mode 0644 (node_exporter runs as another user).
 *
 * Refused, file left alone: a symlink (medic never writes through one, nor replaces one
 * somebody put there), anything but a regular file, and a file with anything but medic's
 * check families in it (someone else's textfile). `lock` serialises two medic writers of
 * the same directory (read, merge, replace); without it (a read-only state dir) the last
 * writer wins.
 *
 * One check lives in one file of a directory: node_exporter rejects a series that two
 * files carry, so this check's series are taken out of any other medic textfile beside
 * this one (the same check run once with --metrics-file and once with
 * $MEDIC_TEXTFILE_DIR). Other files are rewritten only when they hold this check.
 */
export async function writeCheckMetrics(path: string, families: Family[], own: {command: string; subject: string}, lock: () => Promise<() => void>): Promise<void> {
  const release = await lock()
  try {
    let existing: ParsedSample[] = []
    const text = readOwn(path)
    if (text !== null) {
      const parsed = parseMedicExposition(text)
      if ('foreign' in parsed) throw new Error(`not a medic metrics file (${parsed.foreign}): left alone`)
      existing = parsed.samples
    }
    writeFileAtomic(path, mergeExposition(existing, families, own), 0o644)
    for (const other of siblings(path)) {
      try {
        const parsed = parseMedicExposition(readOwn(other) ?? '')
        if ('foreign' in parsed || !parsed.samples.some((s) => s.labels.command === own.command && s.labels.subject === own.subject)) continue
        writeFileAtomic(other, mergeExposition(parsed.samples, [], own), 0o644)
      } catch {
        // Not ours to judge (a symlink, a FIFO, unreadable): left alone.
      }
    }
  } finally {
    release()
  }
}

/** The other `*.prom` files of the directory. */
function siblings(path: string): string[] {
  try {
    return readdirSync(dirname(path)).filter((n) => n.endsWith('.prom') && n !== basename(path) && !n.startsWith('.')).map((n) => join(dirname(path), n))
  } catch {
    return []
  }
}

/** The file's text, null when there is none; throws for a symlink or a non-regular file. */
function readOwn(path: string): string | null {
  let st
  try {
    st = lstatSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  if (st.isSymbolicLink()) throw new Error('a symlink: refused (medic never writes through one, nor replaces it)')
  if (!st.isFile()) throw new Error('not a regular file: refused')
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file: refused')
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}
