import {mkdirSync, readFileSync, writeFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {drill, DROP_IN_FILE, type DrillDeps, type DrillInput} from '../../src/ops/drill.js'
import {makeDrillHelpers} from '../../src/sys/drill-helpers.js'
import {LogFile} from '../../src/sys/log-file.js'
import {portTable} from '../../src/sys/port-table.js'
import {prober} from '../../src/sys/probe.js'
import {procTable, type ProcessTable} from '../../src/sys/proc-table.js'
import {makeSignalGate} from '../../src/sys/signal-gate.js'
import type {LiveEntry} from '../../src/core/protect.js'
import {crashDropIn} from '../../src/core/drill.js'
import {makeSystemdUnits, type SystemdUnits} from '../../src/sys/systemd-unit.js'
import {systemClock} from '../../src/sys/clock.js'
import {alive, Janitor, procState, startService} from '../helpers/procs.js'
import {fakeSignalHub} from '../helpers/fake-signal-hub.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const input = (over: Partial<DrillInput>): DrillInput => ({
  kind: 'kill', subject: 'DRILL', pid: null, unit: null, port: null, url: null, withinMs: 500, holdMs: 100, intervalMs: 20,
  probeTimeoutMs: 300, confirm: 1, cmdTimeoutMs: 1000, dryRun: false, deadlineAt: null, ...over,
})

/**
 * Real /proc, real signals — but the process table can be told that the target's pid now
 * belongs to another process (a different start time), as if it had exited and its pid
 * been reused between the drill's discovery and its signal.
 */
function world(units: SystemdUnits = makeSystemdUnits(j.tmp())) {
  let reusedPid: number | null = null
  const fake = (pid: number, st: string) => (pid === reusedPid ? String(Number(st) + 1) : st)
  const procs: ProcessTable = {
    ...procTable,
    stat: (pid) => {
      const s = procTable.stat(pid)
      return s && {...s, startTime: fake(pid, s.startTime)}
    },
    get: (pid) => {
      const p = procTable.get(pid)
      return p && {...p, startTime: fake(pid, p.startTime)}
    },
    liveness(pid, startTime) {
      const s = this.stat(pid)
      return !s ? 'gone' : s.startTime !== startTime ? 'reused' : s.state === 'Z' ? 'gone' : 'alive'
    },
    ancestors: (pid) => procTable.ancestors(pid),
    descendants: (r) => procTable.descendants(r),
  }
  let onProbe = () => {}
  const registry = {read: (): LiveEntry[] => []}
  const deps: DrillDeps = {
    clock: systemClock, procs, ports: portTable, gate: makeSignalGate({procs, registry: () => registry.read(), policy: {protect: [], match: null}}), locks: {acquire: async () => ({acquired: true, release: () => {}})},
    log: new LogFile(undefined), progress: () => {}, selfPid: process.pid, uid: 0,
    prober: {http: prober.http, tcp: async (...a) => {
      const r = await prober.tcp(...a)
      onProbe()
      return r
    }},
    helpers: makeDrillHelpers(procs), units, interrupts: {subscribe: () => () => {}}, installs: async () => [],
  }
  return {deps, registry, reuseAfterBaseline: (pid: number) => (onProbe = () => (reusedPid = pid))}
}

describe('drill: a pid reused between discovery and the signal', () => {
  it.each(['kill', 'stop', 'squat'] as const)('%s: nothing is sent to the new owner of the pid', async (kind) => {
    const svc = await startService(j, ['--port', '0'])
    const w = world()
    w.reuseAfterBaseline(svc.pid)
    const v = await drill(input({kind, port: svc.port}), w.deps)
    expect(v.status).toBe('UNKNOWN')
    expect(v.summary).toMatch(new RegExp(`^${kind}: pid ${svc.pid} was reused between discovery and the SIG(KILL|STOP): nothing sent`))
    expect(alive(svc.pid)).toBe(true)
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
    if (kind === 'squat') expect(v.actions.map((a) => a.action)).toEqual(['squatter', 'restore kill-squatter'])
  })

  it('a target that exited before the signal: UNKNOWN, not injected', async () => {
    const svc = await startService(j, ['--port', '0'])
    const w = world()
    // The registry is read again at the moment of the signal: the target dies just then.
    let reads = 0
    w.registry.read = () => {
      if (++reads === 2) {
        process.kill(svc.pid, 'SIGKILL')
        const until = Date.now() + 2000
        while (procState(svc.pid) === 'S' || procState(svc.pid) === 'R') if (Date.now() > until) break
      }
      return []
    }
    const v = await drill(input({kind: 'stop', port: svc.port}), w.deps)
    expect(v).toMatchObject({status: 'UNKNOWN', summary: expect.stringMatching(/exited before the SIGSTOP/)})
  })
})

describe('drill squat: the service restarting before the squatter binds', () => {
  it('is UNKNOWN (nothing squatted) as soon as another process holds the port, not after the squatter gives up', async () => {
    const svc = await startService(j, ['--port', '0'])
    const w = world()
    let restarted = 0
    let calls = 0
    w.deps.helpers = {
      guard: w.deps.helpers.guard,
      async squatter() {
        let ended!: () => void
        const exited = new Promise<void>((r) => (ended = r))
        return {pid: 999_999, startTime: '1', exited, close: () => ended(),
          next: async () => {
            if (++calls === 1) return 'waiting EADDRINUSE'
            // The service was SIGKILLed a moment ago; its manager restarts it faster than the squatter binds.
            restarted = (await startService(j, ['--port', String(svc.port)])).pid
            return new Promise<string>(() => {})
          }}
      },
    }
    const v = await drill(input({kind: 'squat', port: svc.port, withinMs: 30_000}), w.deps)
    expect(v.status).toBe('UNKNOWN')
    expect(v.summary).toBe(`squat: the service re-took port ${svc.port} (pid ${restarted}) before the squatter could: nothing squatted; restored (kill squatter)`)
  })
})

describe('drill: an exception in the middle still restores', () => {
  it('a probe that throws after the SIGSTOP: the service is resumed, UNKNOWN internal error', async () => {
    const svc = await startService(j, ['--port', '0'])
    const w = world()
    let calls = 0
    w.deps.prober.tcp = async (...a) => {
      if (++calls === 2) {
        expect(procState(svc.pid)).toBe('T')
        throw new Error('boom')
      }
      return prober.tcp(...a)
    }
    const v = await drill(input({kind: 'stop', port: svc.port, withinMs: 5000}), w.deps)
    expect(v).toMatchObject({status: 'UNKNOWN', summary: 'stop: internal error: boom; restored (SIGCONT)'})
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
  })
})

describe('drill: job-control stops while the fault is injected', () => {
  it('SIGTSTP and SIGTTIN are held (not an interruption) from before the fault until the restore, released after', async () => {
    const svc = await startService(j, ['--port', '0'])
    const w = world()
    const hub = fakeSignalHub()
    w.deps.interrupts = hub
    let calls = 0
    const progress: string[] = []
    w.deps.progress = (l) => void progress.push(l)
    w.deps.prober.tcp = async (...a) => {
      if (++calls === 2) {
        expect(procState(svc.pid)).toBe('T')
        hub.raise('SIGTSTP')
        hub.raise('SIGTTIN')
      }
      return prober.tcp(...a)
    }
    const v = await drill(input({kind: 'stop', port: svc.port, withinMs: 300}), w.deps)
    expect(v.status).toBe('ALERT') // nothing resumes it: not recovered — and not "interrupted"
    expect(v.summary).toMatch(/^stop: not recovered .*restored \(SIGCONT\)/)
    expect(progress.filter((l) => l.startsWith('ignored'))).toEqual([
      'ignored SIGTSTP: a drill cannot be suspended while its fault is injected (Ctrl+C restores and ends it)',
      'ignored SIGTTIN: a drill cannot be suspended while its fault is injected (Ctrl+C restores and ends it)',
    ])
    expect(hub.count()).toBe(0)
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
  })
})

describe('drill: a crash-loop drop-in on a unit', () => {
  /** systemctl replaced by a recorder; the drop-in directory is a temp dir. */
  function fakeSystemd(root: string, mainPid: () => number) {
    const calls: string[] = []
    const real = makeSystemdUnits(root)
    const units: SystemdUnits = {
      ...real,
      show: async () => ({ok: true, props: {LoadState: 'loaded', ActiveState: 'active', SubState: 'running', MainPID: String(mainPid()), Restart: 'no'}}),
      daemonReload: async () => {
        calls.push(`daemon-reload (drop-in ${real.dropInExists('gw', DROP_IN_FILE) ? 'present' : 'absent'})`)
        return {ok: true, detail: 'ok'}
      },
    }
    return {units, calls}
  }

  it('writes the drop-in under the runtime dir, removes it after --hold, and restores nothing else', async () => {
    const svc = await startService(j, ['--port', '0'])
    const root = j.tmp()
    const s = fakeSystemd(root, () => (alive(svc.pid) ? svc.pid : 0))
    const w = world(s.units)
    const v = await drill(input({kind: 'crash-loop', unit: 'gw', holdMs: 50, withinMs: 300}), w.deps)
    expect(v.status).toBe('ALERT')
    expect(s.calls).toEqual(['daemon-reload (drop-in present)', 'daemon-reload (drop-in absent)'])
    expect(existsSync(join(root, 'gw.service.d'))).toBe(false)
    expect(v.summary).toMatch(/not recovered within 300ms: the unit has no main process; protection seen: systemd unit gw \(Restart=no\)/)
  })

  it('removes a drop-in a killed drill left behind, and never touches one medic did not write', async () => {
    const root = j.tmp()
    mkdirSync(join(root, 'gw.service.d'))
    writeFileSync(join(root, 'gw.service.d', DROP_IN_FILE), '[Service]\nExecStartPre=/bin/true\n')
    const svc = await startService(j, ['--port', '0'])
    const s = fakeSystemd(root, () => (alive(svc.pid) ? svc.pid : 0))
    const v = await drill(input({kind: 'crash-loop', unit: 'gw', holdMs: 50, withinMs: 300}), world(s.units).deps)
    expect(v).toMatchObject({status: 'UNKNOWN', summary: expect.stringMatching(/is not a drop-in medic drill wrote: left alone \(yours\? remove it, then systemctl daemon-reload\); nothing injected$/), actions: []})
    expect(readFileSync(join(root, 'gw.service.d', DROP_IN_FILE), 'utf8')).toBe('[Service]\nExecStartPre=/bin/true\n')
    expect(alive(svc.pid)).toBe(true)

    // Marked as medic's but not its exact text (an old or edited file): left alone too.
    const edited = `${crashDropIn('crash-loop', 999_999_999, '1')}Environment=X=1\n`
    writeFileSync(join(root, 'gw.service.d', DROP_IN_FILE), edited)
    expect(await drill(input({kind: 'crash-loop', unit: 'gw', holdMs: 50, withinMs: 300}), world(s.units).deps)).toMatchObject({status: 'UNKNOWN', actions: []})
    expect(readFileSync(join(root, 'gw.service.d', DROP_IN_FILE), 'utf8')).toBe(edited)

    // A live drill's (this test's own pid and start time): one drill of a unit at a time.
    const me = procTable.stat(process.pid)!.startTime
    writeFileSync(join(root, 'gw.service.d', DROP_IN_FILE), crashDropIn('crash-loop', process.pid, me))
    expect(await drill(input({kind: 'crash-loop', unit: 'gw', holdMs: 50, withinMs: 300}), world(s.units).deps)).toMatchObject({status: 'UNKNOWN', summary: expect.stringMatching(new RegExp(`another drill \\(pid ${process.pid}\\) still owns`)), actions: []})

    // A gone drill's exact text (its pid now names another process: a different start time): removed, reloaded, said so.
    writeFileSync(join(root, 'gw.service.d', DROP_IN_FILE), crashDropIn('crash-loop', process.pid, `${me}0`))
    s.calls.length = 0
    const again = await drill(input({kind: 'crash-loop', unit: 'gw', holdMs: 50, withinMs: 300, dryRun: false}), world(s.units).deps)
    expect(again.actions[0]).toMatchObject({action: 'remove-drop-in', result: expect.stringMatching(new RegExp(`^left by a drill that is gone \\(pid ${process.pid}\\): removed .*; ok$`))})
    expect(s.calls[0]).toBe('daemon-reload (drop-in absent)')
    expect(existsSync(join(root, 'gw.service.d', DROP_IN_FILE))).toBe(false)
    expect(existsSync(join(root, 'gw.service.d'))).toBe(true) // not ours to remove
  })
})
