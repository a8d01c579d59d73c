import type {Clock} from '../sys/clock.js'
import type {LockResult} from '../sys/lock.js'
import type {LogFile} from '../sys/log-file.js'
import type {PortTable} from '../sys/port-table.js'
import type {ProcessTable} from '../sys/proc-table.js'
import type {SignalGate} from '../sys/signal-gate.js'

/** What the process-facing use cases need from the OS; one real implementation in sys/, fakes in tests. */
export interface ProcessDeps {
  clock: Clock
  procs: ProcessTable
  ports: PortTable
  /** The one way to signal a process: identity and protection checked before every signal. */
  gate: SignalGate
  /**
   * One lock per target in the state dir. When it cannot be written (read-only or full
   * state dir) `acquire` says so in `error`: an op that needs the lock does not act.
   */
  locks: {acquire(name: string, waitMs: number, purpose?: string): Promise<LockResult>}
  log: LogFile
  /** Progress for people and journals: stderr, never stdout. */
  progress: (line: string) => void
  selfPid: number
}
