import {appendFileSync, readFileSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import {ensureDir, writeFileAtomic} from './state-store.js'

/**
 * A child's stdout+stderr, appended as it comes and capped in size: past `maxBytes` the
 * oldest half is dropped (rewritten atomically), so a chatty service never fills the disk.
 */
export class CappedLog {
  private size = 0

  constructor(private readonly path: string, private readonly maxBytes: number) {
    ensureDir(dirname(path))
    try {
      this.size = statSync(path).size
    } catch {}
  }

  write(chunk: Buffer | string): void {
    try {
      appendFileSync(this.path, chunk)
      this.size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
      if (this.size > this.maxBytes) {
        const text = readFileSync(this.path)
        const keep = text.subarray(text.length - Math.floor(this.maxBytes / 2))
        const nl = keep.indexOf(10)
        const tail = nl >= 0 ? keep.subarray(nl + 1) : keep
        writeFileAtomic(this.path, tail.toString('utf8'))
        this.size = tail.length
      }
    } catch {
      // A full disk must not take the supervisor down with it.
    }
  }
}
