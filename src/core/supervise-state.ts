/**
 * The state file a `medic supervise` writes (`<state-dir>/supervise/<name>.json`), read by
 * `medic supervise status`, `medic health --manager supervise` and `medic boot`.
 */
export interface SuperviseStateFile {
  version: 1
  name: string
  supervisor: {pid: number; startTime: string; cmdline: string[]}
  child: {pid: number; startTime: string} | null
  /** The supervisor's state machine state. */
  state: 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'fatal'
  /** The current run has lasted --min-uptime. */
  stable: boolean
  command: string[]
  port: number | null
  starts: number
  /** Wall ms of every restart, newest last, trimmed to the restart window. */
  restarts: number[]
  budget: {max: number; windowMs: number; exhausted: boolean}
  alert: string | null
  updatedAt: string
}

export function parseSuperviseState(text: string): SuperviseStateFile | null {
  try {
    const o = JSON.parse(text) as SuperviseStateFile
    if (o.version !== 1 || !o.supervisor || !Number.isInteger(o.supervisor.pid)) return null
    return o
  } catch {
    return null
  }
}
