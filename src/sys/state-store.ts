import {readFileSync, statSync} from 'node:fs'

/** State files are written through the file gate: atomic, exact mode, nothing left behind on a full disk. */
export {ensureDir, FileError, writeFileAtomic} from './file-gate.js'

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
