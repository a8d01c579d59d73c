import {closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, statSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

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
