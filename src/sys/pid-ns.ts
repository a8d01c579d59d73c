import {readdirSync, readFileSync, readlinkSync} from 'node:fs'

/** PROC_PID_INIT_INO (include/linux/proc_ns.h): the host's initial pid namespace, the same inode on every Linux. */
const INITIAL_PID_NS = 'pid:[4026531836]'

/**
 * The pid namespaces medic can see, read once per run (for locks clean): when this boot
 * began (/proc/stat btime), whether medic runs in the host's initial pid namespace, and
 * for every process in a nested one its pid there (the later numbers of NSpid in
 * /proc/<pid>/status, which every user may read) → its host pid.
 */
export interface PidSpace {
  bootMs: number | null
  initial: boolean
  /** Host pids holding this pid number in a nested pid namespace; null when /proc could not be read whole. */
  elsewhere(pid: number): number[] | null
}

export function pidSpace(): PidSpace {
  let bootMs: number | null = null
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))
    if (m) bootMs = Number(m[1]) * 1000
  } catch {}
  let initial = false
  try {
    initial = readlinkSync('/proc/self/ns/pid') === INITIAL_PID_NS
  } catch {}
  let nested: Map<number, number[]> | null = new Map()
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      let text: string
      try {
        text = readFileSync(`/proc/${name}/status`, 'latin1')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') continue // exited meanwhile
        nested = null
        break
      }
      const m = /^NSpid:\s+([\d\s]+)$/m.exec(text)
      if (!m) continue
      for (const inner of m[1].trim().split(/\s+/).slice(1).map(Number)) nested.set(inner, [...(nested.get(inner) ?? []), Number(name)])
    }
  } catch {
    nested = null
  }
  return {bootMs, initial, elsewhere: (pid) => (nested ? (nested.get(pid) ?? []) : null)}
}
