import {readFileSync} from 'node:fs'

/** A /proc/<pid>/<name> file as text (`status`, `stack`), '' when unreadable; for diagnostics only. */
export function readProcText(pid: number, name: string): string {
  if (!Number.isInteger(pid) || pid <= 0 || !/^[a-z_]+$/.test(name)) return ''
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'latin1')
  } catch {
    return ''
  }
}
