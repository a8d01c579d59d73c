import {accessSync, constants, readFileSync, statSync} from 'node:fs'
import {ensureDir} from './file-gate.js'

/** State files are written through the file gate: atomic, exact mode, nothing left behind on a full disk. */
export {ensureDir, FileError, writeFileAtomic} from './file-gate.js'

/** The state dir exists (made if need be) and this process may write in it. */
export function writableDir(dir: string): boolean {
  try {
    ensureDir(dir)
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return null
  }
}

/** A state file's text, or null when it cannot be read. */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
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
