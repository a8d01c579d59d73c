import {accessSync, constants, readFileSync, statSync} from 'node:fs'
import {ensureDir, readTrusted} from './file-gate.js'

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

/**
 * A state file's JSON read as a hint before the state dir was judged for this run (health's
 * fast look): only through the file gate's judged walk (no folder or file another user can
 * change, no symlink, a regular file, at most `maxBytes`); null on any refusal or error.
 */
export function readJsonJudged<T>(path: string, maxBytes = 256 * 1024): T | null {
  try {
    return JSON.parse(readTrusted(path, undefined, maxBytes)) as T
  } catch {
    return null
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
