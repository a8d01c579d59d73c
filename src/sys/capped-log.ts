import {appendCapped, PRIVATE_MODE} from './file-gate.js'

/**
 * A child's stdout+stderr, appended as it comes through the file gate (no symlink
 * followed; 0600: a service's output is its owner's) and capped in size: past `maxBytes`
 * the oldest half goes, so a chatty service never fills the disk. A write that fails
 * (full disk, a planted link) is reported once through `onError` and never takes the
 * supervisor down.
 */
export class CappedLog {
  private failing = false

  constructor(private readonly path: string, private readonly maxBytes: number, private readonly onError: (why: string) => void = () => {}) {}

  write(chunk: Buffer | string): void {
    try {
      appendCapped(this.path, chunk, this.maxBytes, PRIVATE_MODE)
      this.failing = false
    } catch (e) {
      if (!this.failing) this.onError(`cannot write the child log ${(e as Error).message}`)
      this.failing = true
    }
  }
}
