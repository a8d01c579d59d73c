import {appendCapped, LOG_MODE} from './file-gate.js'

/**
 * An append-only log with ISO-8601 timestamps, capped in size: past `maxBytes` the
 * oldest half goes, as the seed's v3 kept its last lines. Every append goes through the
 * file gate (no symlink followed, exact mode); a log that cannot be written is said once
 * on stderr and never stops the command.
 */
export class LogFile {
  private warned = false

  constructor(
    private readonly path: string | undefined,
    private readonly maxBytes = 1024 * 1024,
    private readonly now: () => Date = () => new Date(),
  ) {}

  line(text: string): void {
    if (!this.path) return
    try {
      appendCapped(this.path, `[${isoLocal(this.now())}] ${text.replace(/[\r\n]+/g, ' ')}\n`, this.maxBytes, LOG_MODE)
    } catch (e) {
      if (!this.warned) process.stderr.write(`medic: cannot write log ${(e as Error).message}\n`)
      this.warned = true
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
