import {appendFileSync, readFileSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import {ensureDir, writeFileAtomic} from './state-store.js'

/**
 * An append-only log with ISO-8601 timestamps, capped in size: past `maxBytes` the
 * oldest half is dropped (rewritten atomically), as the seed's v3 kept its last lines.
 */
export class LogFile {
  constructor(
    private readonly path: string | undefined,
    private readonly maxBytes = 1024 * 1024,
    private readonly now: () => Date = () => new Date(),
  ) {}

  line(text: string): void {
    if (!this.path) return
    try {
      ensureDir(dirname(this.path))
      appendFileSync(this.path, `[${isoLocal(this.now())}] ${text.replace(/[\r\n]+/g, ' ')}\n`)
      if (statSync(this.path).size > this.maxBytes) {
        const lines = readFileSync(this.path, 'utf8').split('\n')
        writeFileAtomic(this.path, lines.slice(Math.floor(lines.length / 2)).join('\n'))
      }
    } catch (e) {
      process.stderr.write(`medic: cannot write log ${this.path}: ${(e as Error).message}\n`)
    }
  }
}

/** `date -Iseconds` style: local time with its offset. */
export function isoLocal(d: Date): string {
  const off = -d.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(off / 60)}:${pad(off % 60)}`
}
