import {closeSync, constants, fchmodSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs'
import {FileError} from './file-gate.js'
import type {Clock} from './clock.js'
import type {ProcessTable} from './proc-table.js'
import type {StateLayout} from './state-layout.js'
import {ensureDir, mtimeMs} from './state-store.js'

export interface LockOwner {
  pid: number
  startTime: string
  acquiredAt: string
  purpose?: string
}

export type LockResult =
  | {acquired: true; release: () => void}
  /** `error`: the lock could not be written at all (read-only or full state dir): never act without it. */
  | {acquired: false; owner: LockOwner | null; error?: string}

/**
 * One lock per target (`<state-dir>/locks/<name>.lock`), created with O_EXCL and holding
 * the owner's pid and start time. A lock whose owner is gone (identity-checked, so a
 * reused pid does not keep it alive) is taken over. The take-over itself is serialised
 * by a second O_EXCL file, so two waiters can never both break the same stale lock and
 * then remove each other's fresh one.
 */
export class LockManager {
  constructor(
    private readonly layout: StateLayout,
    private readonly table: ProcessTable,
    private readonly clock: Clock,
    private readonly self = {pid: process.pid, startTime: ''},
  ) {
    if (!this.self.startTime) this.self.startTime = table.stat(this.self.pid)?.startTime ?? ''
  }

  path(name: string): string {
    return this.layout.lock(name)
  }

  owner(name: string): LockOwner | null {
    try {
      const o = JSON.parse(readFileSync(this.path(name), 'utf8')) as LockOwner
      return Number.isInteger(o.pid) && typeof o.startTime === 'string' ? o : null
    } catch {
      return null
    }
  }

  /** Try for up to `waitMs`; `0` tries once. */
  async acquire(name: string, waitMs: number, purpose?: string): Promise<LockResult> {
    const deadline = this.clock.now() + waitMs
    for (;;) {
      let r: LockResult
      try {
        ensureDir(this.layout.locksDir)
        r = this.tryOnce(name, purpose)
      } catch (e) {
        const err = e instanceof FileError ? e : new FileError(this.path(name), (e as NodeJS.ErrnoException).code ?? 'EIO', (e as NodeJS.ErrnoException).code ?? (e as Error).message)
        return {acquired: false, owner: null, error: `cannot write the lock ${err.message}`}
      }
      if (r.acquired || this.clock.now() >= deadline) return r
      await this.clock.sleep(Math.min(25, Math.max(1, deadline - this.clock.now())))
    }
  }

  private tryOnce(name: string, purpose?: string): LockResult {
    const path = this.path(name)
    if (this.create(path, purpose)) return {acquired: true, release: () => this.release(path)}
    const owner = this.owner(name)
    if (owner && this.table.liveness(owner.pid, owner.startTime) === 'alive') return {acquired: false, owner}
    // Unreadable lock younger than a second: its owner may still be writing it.
    if (!owner && (mtimeMs(path) ?? 0) > Date.now() - 1000) return {acquired: false, owner: null}
    const breaker = `${path}.break`
    if (!this.create(breaker, 'break')) {
      const age = Date.now() - (mtimeMs(breaker) ?? Date.now())
      if (age > 10_000) this.unlinkQuiet(breaker) // a breaker that died mid-break
      return {acquired: false, owner}
    }
    try {
      const again = this.owner(name)
      const stillStale = !again || this.table.liveness(again.pid, again.startTime) !== 'alive'
      if (stillStale) this.unlinkQuiet(path)
      if (this.create(path, purpose)) return {acquired: true, release: () => this.release(path)}
      return {acquired: false, owner: this.owner(name)}
    } finally {
      this.unlinkQuiet(breaker)
    }
  }

  /** O_EXCL create; a lock that cannot be written whole (ENOSPC) is removed again, never left empty. */
  private create(path: string, purpose?: string): boolean {
    let fd: number
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw new FileError(path, (e as NodeJS.ErrnoException).code ?? 'EIO', (e as NodeJS.ErrnoException).code ?? 'cannot create')
    }
    const owner: LockOwner = {pid: this.self.pid, startTime: this.self.startTime, acquiredAt: this.clock.wall().toISOString(), ...(purpose ? {purpose} : {})}
    try {
      fchmodSync(fd, 0o644)
      writeSync(fd, JSON.stringify(owner) + '\n')
    } catch (e) {
      closeSync(fd)
      this.unlinkQuiet(path)
      throw new FileError(path, (e as NodeJS.ErrnoException).code ?? 'EIO', (e as NodeJS.ErrnoException).code ?? 'cannot write')
    }
    closeSync(fd)
    return true
  }

  private release(path: string): void {
    try {
      const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner
      if (o.pid === this.self.pid && o.startTime === this.self.startTime) unlinkSync(path)
    } catch {}
  }

  private unlinkQuiet(path: string): void {
    try {
      unlinkSync(path)
    } catch {}
  }
}
