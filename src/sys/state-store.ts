import {closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {basename, dirname, join} from 'node:path'

/**
 * Where state lives: `--state-dir`, else `MEDIC_STATE_DIR`, else `/var/lib/medic` for
 * root and `$XDG_STATE_HOME/medic` (default `~/.local/state/medic`) for everyone else —
 * never a world-writable directory such as /tmp by default.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.MEDIC_STATE_DIR) return env.MEDIC_STATE_DIR
  if (uid === 0) return '/var/lib/medic'
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'medic')
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, {recursive: true, mode: 0o755})
}

// No node:crypto for the suffix: it costs ~2.5 ms of start-up; 'wx' refuses a clash anyway.
let tmpCounter = 0

/** Temporary file in the same directory, fsync, then rename: readers see the old or the new file, never half. */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  ensureDir(dirname(path))
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${(++tmpCounter).toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`)
  const fd = openSync(tmp, 'wx', mode)
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(tmp, path)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {}
    throw e
  }
}

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return null
  }
}

export function mtimeMs(path: string): number | null {
  try {
    return statSync(path).mtimeMs
  } catch {
    return null
  }
}
