import type {ManagerView} from '../../core/manager-parse.js'
import {describeExec, type ExecResult} from '../exec.js'
import type {PortTable} from '../port-table.js'
import type {ProcessTable} from '../proc-table.js'
import type {SignalGate} from '../signal-gate.js'

export const MANAGER_KINDS = ['auto', 'systemd', 'systemd-user', 'supervise', 'pm2', 'docker', 'command', 'none', 'ssh'] as const
export type ManagerKind = (typeof MANAGER_KINDS)[number]

export interface ManagerStatus {
  available: boolean
  reason?: string
  view?: ManagerView
}

export interface StepResult {
  ok: boolean
  detail: string
  /** Something done on the way that a reader of the actions should see (a daemon-reload). */
  note?: string
  /** The step refused to act (a protected process, a stale pid file): the repair must stop here. */
  refused?: boolean
}

/** What `medic health` needs of whatever runs the service. One implementation per kind. */
export interface ServiceManager {
  kind: Exclude<ManagerKind, 'auto'>
  label: string
  status(): Promise<ManagerStatus>
  /** Pids of the service's own processes (cgroup, or main pid and its descendants); null when unknown. */
  servicePids(view: ManagerView | undefined): number[] | null
  stop(): Promise<StepResult | null>
  start(): Promise<StepResult>
  /** It frees the port itself before every start (medic supervise): nobody else should. */
  freesPort?: boolean
}

export interface ManagerOptions {
  name: string
  unit: string
  container: string
  pm2App: string
  startCmd?: string[]
  stopCmd?: string[]
  restartCmd?: string[]
  statusCmd?: string[]
  pidFile?: string
  stateDir: string
  graceMs: number
  cmdTimeoutMs: number
  logFile?: string
  procs: ProcessTable
  gate: SignalGate
  /** The service's port and the socket table: a --pid-file's process must hold it (or run --start-cmd). */
  port?: number | null
  ports?: PortTable
  /**
   * Terminates processes the way cleanup does (TERM → grace → KILL through the signal
   * gate); refuses them all, signalling none, when the gate would refuse any.
   */
  terminate: (targets: {pid: number; startTime: string}[]) => Promise<StepResult>
}

/** A manager command's result as a step: ok only when it ran, in time, and exited 0. */
export const execStep = (r: ExecResult): StepResult => ({ok: !r.missing && !r.timedOut && r.code === 0, detail: `${r.argv.join(' ')}: ${describeExec(r)}`})
