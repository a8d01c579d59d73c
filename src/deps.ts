import {accessSync, constants} from 'node:fs'
import type {ProcessDeps} from './ops/deps.js'
import {systemClock} from './sys/clock.js'
import {LockManager} from './sys/lock.js'
import {LogFile} from './sys/log-file.js'
import {portTable} from './sys/port-table.js'
import {procTable} from './sys/proc-table.js'
import {readRegistry} from './sys/protected-registry.js'
import {makeSignaller} from './sys/signaller.js'
import {stateLayout, type StateLayout} from './sys/state-layout.js'
import {ensureDir} from './sys/state-store.js'

/** The composition root: the one place real sys/ implementations are wired to ops/. */
export function makeProcessDeps(opts: {stateDir?: string; logFile?: string; stderr: (l: string) => void}): ProcessDeps & {stateDir: string; layout: StateLayout; stateWritable: boolean} {
  const layout = stateLayout(opts.stateDir)
  const stateDir = layout.dir
  return {
    stateDir,
    layout,
    clock: systemClock,
    procs: procTable,
    ports: portTable,
    signaller: makeSignaller(procTable),
    registry: () => readRegistry(stateDir, procTable),
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
