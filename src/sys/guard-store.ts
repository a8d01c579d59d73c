import {readFileSync, statSync} from 'node:fs'
import {defaultGuardConfig, ISOLATION_LIMITS, parseGuardConfig, WRITTEN_BY, type GuardConfig} from '../core/guard-config.js'
import {parseState, type GuardState} from '../core/guard-ladder.js'
import type {GuardAction} from '../core/trace.js'
import {CappedLog} from './capped-log.js'
import {readTrusted} from './file-gate.js'
import type {StateLayout} from './state-layout.js'
import {readText} from './files.js'
import {writeFileAtomic} from './state-store.js'

/**
 * The files of `medic guard`: its config (what `medic isolation` wrote, or any file in
 * that shape), its state between one-pass runs, and the record of its actions that
 * kill-trace reads to explain a kill.
 */

export class GuardConfigError extends Error {}

/**
 * The config at `path` (null: the built-in defaults). A file `medic isolation` wrote
 * starts from the isolation table, any other from the protector's; a file that does not
 * parse or validate is an error — never silently the defaults.
 */
export function loadGuardConfig(path: string | null | undefined): GuardConfig {
  if (!path) return defaultGuardConfig()
  // A config another user can change would let that user choose whom the guard kills
  // (limits, dev patterns) or how a job is limited: read only as medic's other configs are.
  let text: string
  try {
    text = readTrusted(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new GuardConfigError(`cannot read config ${path}: ENOENT`)
    throw new GuardConfigError(`config ${(e as Error).message}; medic uses only a config file no other user can change`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new GuardConfigError(`${path}: not JSON (${(e as Error).message.split('\n')[0]})`)
  }
  const ours = (data as {writtenBy?: unknown} | null)?.writtenBy === WRITTEN_BY
  const r = parseGuardConfig(data, path, ours ? ISOLATION_LIMITS : undefined)
  if (!r.ok) throw new GuardConfigError(r.reason)
  return r.config
}

/** Its state, never through a symlink nor blocking on a FIFO planted there (a file that does not parse is a fresh start). */
export function readGuardState(layout: StateLayout): GuardState {
  const text = readText(layout.guardState, RECORD_MAX_BYTES)
  try {
    return parseState(text === null ? null : JSON.parse(text))
  } catch {
    return parseState(null)
  }
}

/** Throws when the state cannot be written: the caller says so (the counts start over next time). */
export function writeGuardState(layout: StateLayout, state: GuardState): void {
  writeFileAtomic(layout.guardState, JSON.stringify(state) + '\n')
}

const RECORD_MAX_BYTES = 1024 * 1024

/** Appends one action record (a JSON line); best effort — an action is never undone for a full disk. */
export function recordGuardAction(layout: StateLayout, a: GuardAction & Record<string, unknown>): void {
  new CappedLog(layout.guardActions, RECORD_MAX_BYTES).write(JSON.stringify(a) + '\n')
}

/** The records written at or after `sinceMs`, from each given layout (kill-trace's own, and root's). */
export function readGuardActions(layouts: StateLayout[], sinceMs: number): GuardAction[] {
  const out: GuardAction[] = []
  const seen = new Set<string>()
  for (const l of layouts) {
    if (seen.has(l.guardActions)) continue
    seen.add(l.guardActions)
    // Not through a symlink, not blocking on a FIFO, at most what the writer caps it at.
    const text = readText(l.guardActions, 2 * RECORD_MAX_BYTES)
    if (text === null) continue
    for (const line of text.split('\n')) {
      if (!line) continue
      try {
        const a = JSON.parse(line) as GuardAction
        if (Number.isFinite(a.at) && a.at >= sinceMs && Number.isInteger(a.victim?.pid) && Number.isInteger(a.guard?.pid) && typeof a.reason === 'string') out.push(a)
      } catch {}
    }
  }
  return out.sort((a, b) => a.at - b.at)
}

/** The files `medic isolation` reads and writes: atomic writes (temporary file, fsync, rename), reads that tell absence from failure. */
export const isolationFiles = {
  read(path: string): string | null {
    try {
      return readFileSync(path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw e
    }
  },
  isDirectory(path: string): boolean {
    try {
      return statSync(path).isDirectory()
    } catch {
      return false
    }
  },
  write(path: string, text: string): void {
    writeFileAtomic(path, text, 0o644)
  },
}
