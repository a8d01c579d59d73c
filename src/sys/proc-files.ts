import {readFileSync, writeFileSync} from 'node:fs'

/** A /proc/<pid>/<name> file as text (`status`, `stack`), '' when unreadable; for diagnostics only. */
export function readProcText(pid: number, name: string): string {
  if (!Number.isInteger(pid) || pid <= 0 || !/^[a-z_]+$/.test(name)) return ''
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'latin1')
  } catch {
    return ''
  }
}

/** Writes /proc/<pid>/oom_score_adj and reads back what the kernel kept; throws the errno error when it refuses. */
export function setOomScoreAdj(pid: number, value: number): string {
  writeFileSync(`/proc/${pid}/oom_score_adj`, String(value))
  return readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()
}
