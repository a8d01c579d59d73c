import {UsageError} from './cli/parse.js'
import {systemClock, type Clock} from './sys/clock.js'
import {LockManager, type LockResult} from './sys/lock.js'
import {LogFile} from './sys/log-file.js'
import {portTable, type PortTable} from './sys/port-table.js'
import {procTable, type ProcessTable} from './sys/proc-table.js'
import type {ProtectPattern} from './core/protect.js'
import {configProtect} from './sys/protect-config.js'
import {registryPlaces, registryReader} from './sys/protected-registry.js'
import {pastDeadline} from './sys/deadline.js'
import {makeSignalGate, type SignalGate} from './sys/signal-gate.js'
import {stateLayout, type StateLayout} from './sys/state-layout.js'
import {writableDir} from './sys/state-store.js'

/**
 * Progress lines (stderr, never stdout), and `step`: the wait in progress, named for a
 * person at a terminal, who sees it live with its elapsed time until the next step or
 * `step()` (cli/progress.ts). Plain output — cron, journals, pipes, CI — ignores steps, so
 * they cost nothing there. `live: false`: a one-off line instead of a spinner (the
 * terminal is shared with a job writing to it).
 */
export type Progress = ((line: string) => void) & {step?: (title?: string, opts?: {live?: boolean}) => void}

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
  /** Progress for people and journals: stderr, never stdout; `step` names a wait (see Progress). */
  progress: Progress
  selfPid: number
  /** The uid medic runs as: what only root may do, and what a message says (never read from process in ops). */
  uid: number
}

export interface GateOptions {
  stateDir?: string
  /** --protect patterns. */
  protect?: RegExp[]
  /** --match (cleanup). */
  match?: RegExp | null
  /** --config: the file whose `protect:` patterns are added (default: the search of sys/config.ts). */
  config?: string
}

/**
 * The signal gate of one command run: --protect, --match and the config file's `protect:`
 * patterns (loaded here, so no command can forget them), the host's protected registry.
 */
export async function makeGate(o: GateOptions & {layout?: StateLayout}): Promise<SignalGate> {
  const cfg = await configProtect(o.config)
  // A --config named on the command line that cannot be read is bad input; a found one that cannot, fails closed (the gate refuses).
  if (cfg.error && o.config !== undefined) throw new UsageError(cfg.error.replace(/^config file: /, ''))
  // The layout the caller already judged (makeProcessDeps), else judged here.
  const places = registryPlaces((o.layout ?? stateLayout(o.stateDir)).dir)
  // Read once per run and again only when it changed; bounded by --timeout.
  const read = registryReader(places, procTable, {past: pastDeadline})
  let problem: string | null = null
  let patterns: ProtectPattern[] = []
  const registry = () => {
    const r = read()
    problem = r.incomplete
    patterns = r.patterns
    return r.live
  }
  return makeSignalGate({procs: procTable, registry, registryProblem: () => problem, patterns: () => patterns, policy: {protect: [...(o.protect ?? []), ...cfg.patterns], match: o.match ?? null, error: cfg.error}})
}

/** The composition root: the one place real sys/ implementations are wired to ops/ (which import only the types above). */
export async function makeProcessDeps(opts: GateOptions & {logFile?: string; stderr: Progress}): Promise<ProcessDeps & {stateDir: string; layout: StateLayout; stateWritable: boolean}> {
  const layout = stateLayout(opts.stateDir)
  const stateDir = layout.dir
  let writable: boolean | undefined
  return {
    stateDir,
    layout,
    clock: systemClock,
    procs: procTable,
    ports: portTable,
    gate: await makeGate({...opts, stateDir, layout}),
    locks: new LockManager(layout, procTable, systemClock),
    /**
     * Default logs go in the state dir only when it can be written (a read-only container's
     * check-only run stays quiet). Looked at (and the dir made) on first use: a run that
     * keeps no log there (cleanup of a free port) walks nothing.
     */
    get stateWritable() {
      return (writable ??= writableDir(stateDir))
    },
    log: new LogFile(opts.logFile),
    progress: opts.stderr,
    selfPid: process.pid,
    uid: process.getuid?.() ?? 0,
  }
}

/** What medic install, uninstall and verify touch: unit files, systemctl, crontab, the manifests. */
export async function makeInstallDeps(opts: {stateDir?: string; wslConf?: string; stderr: (l: string) => void}): Promise<import('./ops/install.js').InstallDeps> {
  const [host, {readLastVerdict}] = await Promise.all([import('./sys/install-host.js'), import('./sys/last-verdict.js')])
  const layout = stateLayout(opts.stateDir)
  return {
    files: host.installFiles,
    systemd: host.systemdCtl,
    crontab: host.userCrontab,
    host: host.hostFacts(layout.dir, opts.wslConf),
    manifests: host.manifestStore(layout),
    // Asked only when a lock is taken: a dry run creates nothing, not even the state dir.
    locks: () => (writableDir(layout.dir) ? new LockManager(layout, procTable, systemClock) : null),
    clock: systemClock,
    progress: opts.stderr,
    lastVerdict: readLastVerdict,
    cronRunning: () => host.cronRunning(procTable),
    runOnce: host.runOnce,
  }
}
