import type {ProcessTable} from './proc-table.js'

export type SignalResult = 'sent' | 'gone' | 'reused' | 'denied' | 'refused'

/**
 * Sends a signal to a process identified by (pid, start time). The identity is re-read
 * immediately before every signal: a changed start time means the pid was reused and
 * nothing is sent. Node has no pidfd, so a window of microseconds between the read and
 * kill(2) remains; a pid cannot cycle through the whole pid space in that time.
 * pid ≤ 1, medic itself and its ancestors are refused here too, whatever the caller decided.
 */
export interface Signaller {
  send(pid: number, startTime: string, signal: NodeJS.Signals): SignalResult
}

export function makeSignaller(table: ProcessTable, selfPid = process.pid): Signaller {
  const ancestors = new Set(table.ancestors(selfPid).map((p) => p.pid))
  return {
    send(pid, startTime, signal) {
      if (!Number.isInteger(pid) || pid <= 1 || pid === selfPid || ancestors.has(pid)) return 'refused'
      const live = table.liveness(pid, startTime)
      if (live !== 'alive') return live
      try {
        process.kill(pid, signal)
        return 'sent'
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code === 'ESRCH') return 'gone'
        if (code === 'EPERM') return 'denied'
        throw e
      }
    },
  }
}
