import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ProcessDeps} from '../../src/deps.js'
import type {Clock} from '../../src/sys/clock.js'
import {LogFile} from '../../src/sys/log-file.js'
import type {PortListeners, PortTable} from '../../src/sys/port-table.js'
import type {ProcInfo, ProcessTable} from '../../src/sys/proc-table.js'
import {makeSignalGate} from '../../src/sys/signal-gate.js'

/** A process of the fake world. `onTerm`: what SIGTERM does to it (SIGKILL always ends it, unless `unkillable`). */
export interface FakeProc {
  pid: number
  comm: string
  state?: string
  ppid?: number
  pgid?: number
  sid?: number
  startTime?: string
  cmdline?: string[]
  uid?: number
  onTerm?: 'exit' | 'ignore'
  unkillable?: boolean
}

export const SELF = 1000

/**
 * A world for ops tests: a process table, ports, a clock that moves only when slept on,
 * locks — all recording what is done to them in `events`, in order. The signal gate is
 * the REAL one (identity, pid 1, self and ancestors, --protect), over this process
 * table; only kill(2) is faked, and recorded. Files stay real, in a temp dir.
 */
export function fakeWorld(o: {protect?: RegExp[]} = {}) {
  let now = 0
  const wall0 = Date.UTC(2026, 0, 1)
  const events: string[] = []
  const progress: string[] = []
  const procs = new Map<number, ProcInfo & {onTerm: 'exit' | 'ignore'; unkillable: boolean}>()
  const ports = new Map<number, number[]>()
  const add = (p: FakeProc) => {
    procs.set(p.pid, {
      pid: p.pid, comm: p.comm, state: (p.state ?? 'S') as ProcInfo['state'], ppid: p.ppid ?? 1, pgid: p.pgid ?? p.pid, sid: p.sid ?? p.pid, ttyNr: 0,
      startTime: p.startTime ?? String(p.pid * 10), utimeTicks: 0, stimeTicks: 0, threads: 1, uid: p.uid ?? 0, cmdline: p.cmdline ?? [p.comm],
      onTerm: p.onTerm ?? 'exit', unkillable: p.unkillable ?? false,
    })
  }
  const exit = (pid: number) => {
    procs.delete(pid)
    for (const [port, pids] of ports) ports.set(port, pids.filter((x) => x !== pid))
  }
  add({pid: 1, comm: 'init', ppid: 0})
  add({pid: SELF, comm: 'medic', ppid: 1})
  const table: ProcessTable = {
    get: (pid) => {
      const p = procs.get(pid)
      return p ? {...p, cmdline: [...p.cmdline]} : null
    },
    stat: (pid) => table.get(pid),
    liveness: (pid, startTime) => {
      const p = procs.get(pid)
      return !p ? 'gone' : p.startTime !== startTime ? 'reused' : p.state === 'Z' ? 'gone' : 'alive'
    },
    list: () => [...procs.keys()],
    ancestors: (pid) => {
      const out: ProcInfo[] = []
      for (let p = procs.get(procs.get(pid)?.ppid ?? 0); p; p = procs.get(p.ppid)) out.push(p)
      return out
    },
    descendants: (roots) => {
      const out = new Set(roots.filter((r) => procs.has(r)))
      for (let grew = true; grew; ) {
        grew = false
        for (const p of procs.values()) if (out.has(p.ppid) && !out.has(p.pid)) (out.add(p.pid), (grew = true))
      }
      return [...out]
    },
    threadTicks: () => ({}),
    readBytes: () => null,
    userName: (uid) => (uid === 0 ? 'root' : `user${uid}`),
    envVar: () => null,
    cgroup2: () => null,
    exe: () => null,
    realUid: (pid) => procs.get(pid)?.uid ?? null,
  }
  // A sleep moves the clock at once, then yields to the event loop (as a real timer does), so
  // a loop that sleeps never starves what the test does meanwhile.
  const clock: Clock = {
    now: () => now,
    wall: () => new Date(wall0 + now),
    sleep: async (ms) => {
      now += Math.max(0, ms)
      await new Promise((r) => setImmediate(r))
    },
  }
  const kill = (pid: number, sig: NodeJS.Signals) => {
    events.push(`${sig} ${pid}`)
    const p = procs.get(pid)
    if (!p) throw Object.assign(new Error('ESRCH'), {code: 'ESRCH'})
    if (p.unkillable) return
    if (sig === 'SIGKILL' || (sig !== 'SIGCONT' && p.onTerm === 'exit')) exit(pid)
  }
  const gate = makeSignalGate({procs: table, registry: () => [], policy: {protect: o.protect ?? [], match: null}, selfPid: SELF, kill})
  const portTable: PortTable = {
    listeners: async (port): Promise<PortListeners> => {
      const pids = ports.get(port) ?? []
      return {port, listening: pids.length > 0, sockets: pids.length ? [{address: '0.0.0.0', port, owners: pids.map((pid) => ({pid, comm: procs.get(pid)?.comm ?? '?'}))}] as never : [], pids, invisible: false, via: 'ss'}
    },
    bindable: async (port) => ((ports.get(port) ?? []).length ? {ok: false, code: 'EADDRINUSE'} : {ok: true}),
    knownListeners: async () => null,
  }
  const deps: ProcessDeps = {
    clock, procs: table, ports: portTable, gate,
    locks: {
      acquire: async (name) => {
        events.push(`lock ${name}`)
        return {acquired: true, release: () => void events.push(`unlock ${name}`)}
      },
    },
    log: new LogFile(undefined),
    progress: (l) => void progress.push(l),
    selfPid: SELF,
    uid: 0,
  }
  const dirs: string[] = []
  return {
    deps, events, progress, add, exit,
    listen: (port: number, pid: number) => ports.set(port, [...(ports.get(port) ?? []), pid]),
    advance: (ms: number) => void (now += ms),
    now: () => now,
    proc: (pid: number) => procs.get(pid),
    tmp: () => {
      const d = mkdtempSync(join(tmpdir(), 'medic-ops-'))
      dirs.push(d)
      return d
    },
    cleanup: () => dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true})),
  }
}
