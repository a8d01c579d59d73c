import {accessSync, constants} from 'node:fs'
import type {ProcessDeps} from './ops/deps.js'
import {systemClock} from './sys/clock.js'
import {LockManager} from './sys/lock.js'
import {LogFile} from './sys/log-file.js'
import {portTable} from './sys/port-table.js'
import {procTable} from './sys/proc-table.js'
import {configProtect} from './sys/protect-config.js'
import {readRegistry, registryPlaces} from './sys/protected-registry.js'
import {makeSignalGate, type SignalGate} from './sys/signal-gate.js'
import {stateLayout, type StateLayout} from './sys/state-layout.js'
import {ensureDir} from './sys/state-store.js'

export interface GateOptions {
  stateDir?: string
  /** --protect patterns. */
  protect?: RegExp[]
  /** --match (cleanup). */
  match?: RegExp | null
  /** --config: the file whose `protect:` patterns are added (default: the usual search). */
  config?: string
}

/**
 * The signal gate of one command run: --protect, --match and the config file's `protect:`
 * patterns (loaded here, so no command can forget them), the host's protected registry.
 */
export async function makeGate(o: GateOptions): Promise<SignalGate> {
  const cfg = await configProtect(o.config)
  const places = registryPlaces(stateLayout(o.stateDir).dir)
  return makeSignalGate({procs: procTable, registry: () => readRegistry(places, procTable), policy: {protect: [...(o.protect ?? []), ...cfg.patterns], match: o.match ?? null, error: cfg.error}})
}

/** The composition root: the one place real sys/ implementations are wired to ops/. */
export async function makeProcessDeps(opts: GateOptions & {logFile?: string; stderr: (l: string) => void}): Promise<ProcessDeps & {stateDir: string; layout: StateLayout; stateWritable: boolean}> {
  const layout = stateLayout(opts.stateDir)
  const stateDir = layout.dir
  return {
    stateDir,
    layout,
    clock: systemClock,
    procs: procTable,
    ports: portTable,
    gate: await makeGate({...opts, stateDir}),
    locks: new LockManager(layout, procTable, systemClock),
    /** Default logs go in the state dir only when it can be written (a read-only container's check-only run stays quiet). */
    stateWritable: writable(stateDir),
    log: new LogFile(opts.logFile),
    progress: opts.stderr,
    selfPid: process.pid,
  }
}

function writable(dir: string): boolean {
  try {
    ensureDir(dir)
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** What kill-trace and run-dev-safe's --trace need: tracefs/strace, a spawner, medic's own signals, the clock. */
export async function makeTraceDeps(o: {stateDir?: string; stderr: (l: string) => void}): Promise<import('./ops/kill-trace.js').TraceDeps> {
  const [{tracer}, {spawner}, {processSignalHub}] = await Promise.all([import('./sys/tracer.js'), import('./sys/spawner.js'), import('./sys/signal-hub.js')])
  return {procs: procTable, gate: await makeGate({stateDir: o.stateDir}), clock: systemClock, signals: processSignalHub, tracer, spawner, progress: o.stderr}
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
    locks: writable(layout.dir) ? new LockManager(layout, procTable, systemClock) : null,
    clock: systemClock,
    progress: opts.stderr,
    lastVerdict: readLastVerdict,
    cronRunning: () => host.cronRunning(procTable),
    runOnce: host.runOnce,
  }
}
