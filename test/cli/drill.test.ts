import {spawn, type ChildProcess} from 'node:child_process'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {ollamaExe} from '../helpers/ollama.js'
import {alive, BIN, expectContract, freePort, Janitor, medic, procState, ROOT, SERVICE, startProtectedService, startService, until, waitReady, type MedicResult} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

// Every medic this file starts (and the helpers it spawns) inherits this mark, so helpers()
// sees this file's helpers only, never those of a suite running in another worktree.
const MARK = `MEDIC_DRILL_TEST=${process.pid}`
process.env.MEDIC_DRILL_TEST = String(process.pid)

/** Pids of the drill's helper processes (squatter, guard) started by this file, still running. */
function helpers(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      return /medic-drill-(squatter|guard)/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1')) && readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(MARK)
    } catch {
      return false
    }
  })
}

async function answers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, {signal: AbortSignal.timeout(1000)})
    return r.status === 200
  } catch {
    return false
  }
}

/** Waits until this file's squatter is the one process listening on the port. */
async function squatted(port: number): Promise<void> {
  await until('the squatter holds the port', async () => {
    const pids = await listenerPids(port)
    return (pids.length === 1 && helpers().includes(pids[0])) || null
  })
}

async function listenerPids(port: number): Promise<number[]> {
  const {portTable} = await import('../../src/sys/port-table.js')
  return (await portTable.listeners(port)).pids
}

interface Sup {
  child: ChildProcess
  dir: string
  port: number
  childPid: () => number | null
  stop: () => Promise<void>
}

/**
 * Probes that give a new child 5 s to answer (refused probes fail at once: 10 × 500 ms), yet
 * notice a stopped one in ~8 s (10 × (500 ms + the 300 ms timeout)): well inside --within.
 */
const SUP_PROBES = ['--probe-interval', '500ms', '--probe-timeout', '300ms', '--probe-failures', '10']

/** `medic supervise` of the service fixture, probing its health URL. */
async function supervised(): Promise<Sup> {
  const dir = j.tmp()
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'supervise', '--name', 'gw', '--state-dir', dir, '--port', String(port), '--health-url', `http://127.0.0.1:${port}/health`,
    // The supervisor probes from the child's first moment: the interval × failures is the time a
    // new child has to answer (a refused probe fails at once). 100ms × 2 killed every new child
    // of a loaded host before it could listen, until the restart budget was spent.
    ...SUP_PROBES, '--min-uptime', '200ms', '--grace', '500ms',
    '--', process.execPath, SERVICE, '--port', String(port)], {stdio: 'ignore', detached: true, env: {...process.env, NO_COLOR: '1'}})
  j.child(child)
  const state = () => {
    try {
      return JSON.parse(readFileSync(join(dir, 'supervise', 'gw.json'), 'utf8'))
    } catch {
      return null
    }
  }
  j.later(() => [state()?.child?.pid ?? 0])
  const childPid = () => state()?.child?.pid ?? null
  await until('the supervised service answers', async () => (state()?.stable && (await answers(port))) || null, 60_000)
  return {child, dir, port, childPid, stop: async () => {
    child.kill('SIGTERM')
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))
  }}
}

// 300ms probes keep the short --within tests short; a test that expects a recovery passes its own
// (SLOW_PROBE): a fresh service on a loaded host can take longer to answer ("not healthy before the drill").
const drill = (kind: string, ...args: string[]) => medic(['drill', kind, '--interval', '50ms', ...(args.includes('--probe-timeout') ? [] : ['--probe-timeout', '300ms']), '--state-dir', j.tmp(), ...args])
const SLOW_PROBE = ['--probe-timeout', '3s']

function recoveredMs(r: MedicResult): number {
  const m = /recovered in (\d+(?:\.\d+)?)(ms|s)/.exec(r.lines[0])
  if (!m) throw new Error(`no recovery time in ${r.lines[0]}`)
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1)
}

describe('medic drill against a service supervised by medic supervise', () => {
  it.each([
    ['kill', []],
    ['stop', []],
    ['squat', []],
    ['crash-loop', ['--hold', '400ms']],
  ])('%s: the supervisor recovers it → DRILL_OK with the time to recover', async (kind, extra) => {
    const s = await supervised()
    const before = s.childPid()!
    const r = await drill(kind, '--port', String(s.port), '--url', `http://127.0.0.1:${s.port}/health`, '--within', '60s', '--json', ...SLOW_PROBE, ...extra)
    const v = JSON.parse(r.stdout)
    expect(v, r.stderr).toMatchObject({token: 'DRILL_OK', exitCode: 0, kind, recoveredInMs: expect.any(Number)})
    const killed = kind === 'stop' ? `pid ${before} killed, ` : ''
    expect(v.summary).toMatch(new RegExp(`^${kind}: recovered in \\S+: ${killed}new pid \\d+ \\(node\\) on port ${s.port}, answers \\(medic supervise pid ${s.child.pid}\\)$`))
    if (kind === 'crash-loop') expect(v.recoveredInMs).toBeGreaterThan(0)
    expect(alive(before)).toBe(false)
    expect(await answers(s.port)).toBe(true)
    expect(await listenerPids(s.port)).toEqual([s.childPid()])
    expect(helpers()).toEqual([])
    await s.stop()
  }, 90_000) // a safety net above --within 60s: the drill's own deadline says what failed

  it('prints the token line with the time, and -v lines without tokens', async () => {
    const s = await supervised()
    const r = await drill('kill', '--name', 'gateway', '--port', String(s.port), '--within', '60s', '-v', ...SLOW_PROBE)
    expectContract(r, 'GATEWAY_OK')
    expect(recoveredMs(r)).toBeGreaterThanOrEqual(0)
    expect(r.stdout).toMatch(/action SIGKILL pid \d+ \(node\): sent/)
    await s.stop()
  }, 90_000)
})

describe('medic drill against an unsupervised service: nothing recovers it', () => {
  it('kill → DRILL_ALERT within --within; the port stays free', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('kill', '--port', String(svc.port), '--within', '1s')
    expectContract(r, 'DRILL_ALERT')
    expect(r.code).toBe(2)
    expect(r.lines[0]).toBe('DRILL_ALERT: kill: not recovered within 1s: nothing listens on the port; no protection seen; saw port free')
    expect(alive(svc.pid)).toBe(false)
  })

  it('stop → DRILL_ALERT, and the service is resumed and answers again', async () => {
    const svc = await startService(j, ['--port', '0', '--http'])
    const r = await drill('stop', '--port', String(svc.port), '--url', `http://127.0.0.1:${svc.port}/health`, '--within', '1s')
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`^DRILL_ALERT: stop: not recovered within 1s: pid ${svc.pid} is still stopped; no protection seen; restored \\(SIGCONT\\); saw port held by`))
    expect(procState(svc.pid)).not.toBe('T')
    expect(await answers(svc.port)).toBe(true)
    expect(helpers()).toEqual([])
  })

  it('squat → DRILL_ALERT naming the squatter on the port; the squatter is gone afterwards', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('squat', '--port', String(svc.port), '--within', '1s', '--json')
    const v = JSON.parse(r.stdout)
    expect(v).toMatchObject({token: 'DRILL_ALERT', exitCode: 2, recoveredInMs: null})
    expect(v.summary).toMatch(/the squatter still holds the port; no protection seen; restored \(kill squatter\); saw port held by pid \d+ \(node\) = the squatter/)
    expect(v.actions.map((a: {action: string}) => a.action)).toEqual(['squatter', 'SIGKILL', 'await-squatter', 'restore kill-squatter'])
    expect(helpers()).toEqual([])
    expect(await listenerPids(svc.port)).toEqual([])
  })

  it('crash-loop (port held for --hold, then released) → DRILL_ALERT; nothing left on the port', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('crash-loop', '--port', String(svc.port), '--hold', '300ms', '--within', '1s')
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(/nothing listens on the port/)
    expect(helpers()).toEqual([])
    expect(await listenerPids(svc.port)).toEqual([])
  })

  it('--pid with the --port of another process: DRILL_UNKNOWN naming both, nothing injected', async () => {
    const a = await startService(j, ['--port', '0'])
    const b = await startService(j, ['--port', '0'])
    for (const kind of ['kill', 'stop', 'squat']) {
      const r = await drill(kind, '--pid', String(a.pid), '--port', String(b.port), '--within', '500ms', '--json')
      const v = JSON.parse(r.stdout)
      expect(v, r.stderr).toMatchObject({token: 'DRILL_UNKNOWN', exitCode: 3, actions: []})
      expect(v.summary).toBe(`${kind}: --port ${b.port} does not belong to pid ${a.pid}: its listener pid ${b.pid} (node) is outside its process tree; nothing injected`)
      expect(procState(a.pid)).toMatch(/^[RS]/)
      expect(procState(b.pid)).toMatch(/^[RS]/)
    }
    // Its own port passes.
    expectContract(await drill('stop', '--pid', String(a.pid), '--port', String(a.port), '--within', '300ms'), 'DRILL_ALERT')
    expect(procState(a.pid)).toMatch(/^[RS]/) // resumed
  })

  it('--pid alone: kill is judged by a new process with the same command line', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('kill', '--pid', String(svc.pid), '--within', '500ms')
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(/no process with its command line runs/)
  })
})

describe('medic drill freeze: an Ollama whose runner is stopped (API up, inference stuck)', () => {
  const FAKE = join(ROOT, 'test/fixtures/proc/fake-ollama.mjs')
  async function fakeOllama() {
    const dir = j.tmp()
    const f = (n: string) => join(dir, n)
    writeFileSync(f('mode'), 'healthy')
    writeFileSync(f('gpu'), 'idle')
    // Ollama by identity (node under the name `ollama`, with `serve`): frozen-check acts only on that.
    const c = spawn(ollamaExe(), [FAKE, 'serve', '--mode-file', f('mode'), '--ready', f('ready.json'), '--runner-pid-file', f('runner.pid')], {stdio: 'ignore', detached: true})
    j.child(c)
    const r = await waitReady(f('ready.json'), 'fake ollama')
    const runner = await until('its runner', () => Number(readFileSync(f('runner.pid'), 'utf8').trim()) || null)
    const url = `http://127.0.0.1:${r.port}`
    const env = {PATH: `${join(ROOT, 'test/fixtures/bin')}:${process.env.PATH}`, FAKE_NVIDIA_MODE_FILE: f('gpu'), FAKE_NVIDIA_APPS_FILE: f('runner.pid'), OLLAMA_HOST: url}
    return {dir, port: r.port, pid: r.pid, runner, url, env}
  }

  it('frozen-check --watch kills the stopped runner → DRILL_OK', async () => {
    const o = await fakeOllama()
    const fc = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '--watch', '--interval', '100ms', '--state-dir', join(o.dir, 'fc'), '--threshold', '0s', '--confirmations', '2',
      // --ps-timeout and --nvidia-timeout stay at their defaults (10s): the fake nvidia-smi is a node
      // script, and one that does not start within the timeout is a hung GPU ("GPU wedged: a restart
      // cannot fix it"), so a loaded host made frozen-check refuse to act (500ms did that).
      '--canary-timeout', '300ms', '--cooldown', '100ms', '--gpu-samples', '1', '--grace', '500ms', '--manager', 'none'],
    {stdio: 'ignore', detached: true, env: {...process.env, ...o.env}})
    j.child(fc)
    const r = await drill('freeze', '--name', 'ollama', '--port', String(o.port), '--url', `${o.url}/api/version`, '--within', '60s', ...SLOW_PROBE)
    expectContract(r, 'OLLAMA_OK')
    expect(r.lines[0]).toMatch(new RegExp(`^OLLAMA_OK: freeze: recovered in \\S+: runner pid ${o.runner} killed, answers$`))
    expect(alive(o.runner)).toBe(false)
    expect(alive(o.pid)).toBe(true)
  }, 90_000)

  it('nothing watching: DRILL_ALERT, the runner resumed, the server never stopped', async () => {
    const o = await fakeOllama()
    const r = await drill('freeze', '--port', String(o.port), '--url', `${o.url}/api/version`, '--within', '800ms')
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`^DRILL_ALERT: freeze: not recovered within 800ms: the runner is still stopped; no protection seen; restored \\(SIGCONT\\)`))
    expect(procState(o.runner)).toMatch(/^[RS]$/)
    expect(procState(o.pid)).toMatch(/^[RS]$/)
    expect(helpers()).toEqual([])
  })

  it('a server with no runner has nothing to freeze: DRILL_UNKNOWN', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('freeze', '--port', String(svc.port))
    expectContract(r, 'DRILL_UNKNOWN')
    expect(r.lines[0]).toMatch(/no model runner under pid \d+ \(node\): nothing to freeze/)
  })
})

describe('medic drill: every way out restores', () => {
  async function drillInBackground(args: string[]) {
    let out = ''
    const c = spawn(process.execPath, [BIN, 'drill', ...args, '--state-dir', j.tmp(), '--interval', '50ms'], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    c.stdout!.on('data', (d) => (out += d))
    const code = new Promise<number | null>((r) => c.once('exit', (x) => r(x)))
    return {c, out: () => out, code}
  }

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s in the middle of a stop drill: the service is SIGCONTed, DRILL_UNKNOWN', async (sig) => {
    const svc = await startService(j, ['--port', '0'])
    const d = await drillInBackground(['stop', '--port', String(svc.port), '--within', '30s'])
    await until('the service stopped', () => procState(svc.pid) === 'T' || null)
    d.c.kill(sig)
    expect(await d.code).toBe(3)
    expect(d.out()).toMatch(new RegExp(`^DRILL_UNKNOWN: stop: interrupted by ${sig} after \\S+; restored \\(SIGCONT\\)\\n$`))
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
    expect(helpers()).toEqual([])
  })

  it('SIGTERM in the middle of a squat drill: the squatter is gone', async () => {
    const svc = await startService(j, ['--port', '0'])
    const d = await drillInBackground(['squat', '--port', String(svc.port), '--within', '30s'])
    await squatted(svc.port)
    d.c.kill('SIGTERM')
    expect(await d.code).toBe(3)
    expect(d.out()).toMatch(/^DRILL_UNKNOWN: squat: interrupted by SIGTERM .*restored \(kill squatter\)/)
    expect(helpers()).toEqual([])
    expect(await listenerPids(svc.port)).toEqual([])
  })

  it('--timeout before --within: DRILL_ALERT before the deadline, the service resumed', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('stop', '--port', String(svc.port), '--within', '30s', '--timeout', '3s', '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token).toBe('DRILL_ALERT') // not the runner's DRILL_UNKNOWN for a medic that hung past --timeout
    // On a loaded machine --timeout may even expire before the fault was complete; either way it is kept.
    expect(v.summary).toMatch(/^stop: (not recovered before --timeout: pid \d+ is still stopped|--timeout reached before the fault was complete)/)
    if (v.actions.some((a: {action: string}) => a.action === 'SIGSTOP')) expect(v.summary).toMatch(/restored \(SIGCONT\)/)
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
  })

  it('SIGKILL to medic itself: its guard resumes the stopped service, its squatter leaves', async () => {
    const a = await startService(j, ['--port', '0'])
    const d = await drillInBackground(['stop', '--port', String(a.port), '--within', '30s'])
    await until('the service stopped', () => procState(a.pid) === 'T' || null)
    d.c.kill('SIGKILL')
    await d.code
    await until('the guard resumed it', () => /^[RS]$/.test(procState(a.pid) ?? '') || null)

    const b = await startService(j, ['--port', '0'])
    const e = await drillInBackground(['squat', '--port', String(b.port), '--within', '30s'])
    await squatted(b.port)
    e.c.kill('SIGKILL')
    await e.code
    await until('the squatter left', () => helpers().length === 0 || null)
    expect(await listenerPids(b.port)).toEqual([])
  })
})

describe('medic drill never hits what it must not', () => {
  it('refuses a run-dev-safe job: DRILL_ALERT, nothing signalled', async () => {
    const dir = j.tmp()
    const svc = await startProtectedService(j, dir)
    for (const kind of ['kill', 'stop', 'squat']) {
      const r = await medic(['drill', kind, '--port', String(svc.port), '--state-dir', dir, '--within', '1s'])
      expectContract(r, 'DRILL_ALERT')
      expect(r.lines[0]).toMatch(new RegExp(`^DRILL_ALERT: ${kind}: refused: pid ${svc.pid} \\(node\\) protected by run-dev-safe \\(job "node"\\); nothing injected`))
      expect(procState(svc.pid)).toMatch(/^[RS]$/)
    }
    expect(helpers()).toEqual([])
  })

  it('refuses a --protect match, medic\'s own ancestors and pid 1', async () => {
    const svc = await startService(j, ['--port', '0'])
    const p = await drill('kill', '--port', String(svc.port), '--protect', 'service\\.mjs')
    expect(p.lines[0]).toMatch(/^DRILL_ALERT: kill: refused: .*matches --protect/)
    const anc = await drill('stop', '--pid', String(process.pid))
    expect(anc.lines[0]).toMatch(/^DRILL_ALERT: stop: refused: .*it is an ancestor of medic/)
    const init = await drill('kill', '--pid', '1')
    expect(init.lines[0]).toMatch(/^DRILL_ALERT: kill: refused: pid 1 .*is never signalled/)
    expect(alive(svc.pid)).toBe(true)
    expect(procState(process.pid)).not.toBe('T')
  })

  it('takes the LISTEN owner as the target, never a client connected to the port', async () => {
    const svc = await startService(j, ['--port', '0'])
    const client = await startService(j, ['--connect', String(svc.port)])
    const r = await drill('kill', '--port', String(svc.port), '--dry-run', '--json')
    const v = JSON.parse(r.stdout)
    expect(v).toMatchObject({token: 'DRILL_UNKNOWN', exitCode: 3, dryRun: true, target: {pid: svc.pid}})
    expect(v.plan).toEqual([`SIGKILL → pid ${svc.pid} (node)`])
    expect(alive(svc.pid) && alive(client.pid)).toBe(true)
  })
})

describe('medic drill: the contract', () => {
  it('--dry-run prints the plan and changes nothing', async () => {
    const svc = await startService(j, ['--port', '0'])
    for (const kind of ['kill', 'stop', 'squat', 'crash-loop']) {
      const r = await drill(kind, '--port', String(svc.port), '--dry-run', '-v')
      expectContract(r, 'DRILL_UNKNOWN')
      expect(r.lines[0]).toMatch(new RegExp(`^DRILL_UNKNOWN: ${kind}: dry run, nothing injected: would (SIGKILL|SIGSTOP|squat) `))
      expect(r.stdout).toMatch(/plan: /)
    }
    expect(procState(svc.pid)).toMatch(/^[RS]$/)
    expect(await listenerPids(svc.port)).toEqual([svc.pid])
    expect(helpers()).toEqual([])
  })

  it('says ALERT, injecting nothing, when the service is already down', async () => {
    const port = await freePort()
    const r = await drill('kill', '--port', String(port))
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(/nothing listens on port \d+: the service is not running; nothing injected/)
  })

  it.each([
    [[], /which fault\?/],
    [['kill', 'stop', '--port', '1'], /one fault at a time/],
    [['explode', '--port', '1'], /unknown fault "explode": expected kill, stop, squat, crash-loop or freeze/],
    [['kill'], /name the service: --port P, --unit U or --pid N/],
    [['kill', '--pid', '2', '--unit', 'x'], /--pid and --unit both/],
    [['kill', '--pid', '1x'], /--pid "1x": expected a whole number/],
    [['crash-loop', '--port', '1', '--hold', '5s', '--within', '5s'], /^DRILL_UNKNOWN: --hold 5s must be shorter than --within 5s: --within counts from the fault, the hold included$/],
    // The default --within is named as such, and 90s is not rounded to "2m".
    [['crash-loop', '--port', '1', '--hold', '90s'], /--hold 90s must be shorter than --within 60s \(the default\): --within counts from the fault, the hold included$/],
    [['crash-loop', '--port', '1', '--hold', '0s'], /--hold 0s: a crash-loop makes every start fail for --hold: give more than 0 \(default 5s\), shorter than --within/],
    [['kill', '--port', '1', '--hold', '5s'], /--hold is for crash-loop only \(how long every start fails\); a kill drill takes no --hold/],
    [['kill', '--port', '1', '--url', 'ftp://x'], /--url "ftp:\/\/x": only http and https/],
  ])('bad input %j is DRILL_UNKNOWN, exit 3 in both modes', async (args, msg) => {
    for (const mode of [[], ['--exit-codes', 'binary']]) {
      const r = await medic(['drill', ...args, ...mode])
      expectContract(r, 'DRILL_UNKNOWN')
      expect(r.lines[0]).toMatch(msg)
      expect(r.code).toBe(3)
    }
  })

  it('binary exit codes: ALERT is 1', async () => {
    const svc = await startService(j, ['--port', '0'])
    const r = await drill('kill', '--port', String(svc.port), '--within', '300ms', '--exit-codes', 'binary', '--name', 'whatsapp')
    expectContract(r, 'WHATSAPP_ALERT')
    expect(r.code).toBe(1)
  })
})

describe('attack-fixes B1: --pid with the --port of another process', () => {
  it('kill --pid A --port <B’s port>: never DRILL_OK from B, which was there before (UNKNOWN: the port is not the pid’s)', async () => {
    const a = await startService(j, ['--port', '0'])
    const b = await startService(j, ['--port', '0'])
    const r = await drill('kill', '--pid', String(a.pid), '--port', String(b.port), '--within', '2s')
    // Observed: DRILL_OK "recovered: new pid <B> on port" — A stays dead, B held the port all along.
    expect(r.lines[0]).not.toMatch(/^DRILL_OK/)
    expect(r.lines[0]).toMatch(/^DRILL_(UNKNOWN|ALERT)/)
    // Fixed: refused before anything is injected, naming both; A and B untouched.
    expect(r.code).toBe(3)
    expect(r.lines[0]).toMatch(new RegExp(`^DRILL_UNKNOWN: kill: --port ${b.port} does not belong to pid ${a.pid}: its listener pid ${b.pid} \\(node\\) is outside its process tree`))
    expect(alive(a.pid) && alive(b.pid)).toBe(true)
    for (const extra of [['--dry-run'], ['--json']]) {
      const d = await drill('squat', '--pid', String(a.pid), '--port', String(b.port), ...extra)
      expect(d.code).toBe(3)
      if (extra[0] === '--json') expect(JSON.parse(d.stdout)).toMatchObject({status: 'UNKNOWN'})
      else expect(d.lines[0]).toMatch(/^DRILL_UNKNOWN: squat: --port \d+ does not belong to pid/)
    }
    const binary = await drill('kill', '--pid', String(a.pid), '--port', String(b.port), '--exit-codes', 'binary')
    expect(binary.code).toBe(1)
  })

  it('kill --pid A --port <A’s own port>: accepted (the pid holds it) and the drill runs', async () => {
    const a = await startService(j, ['--port', '0'])
    const r = await drill('kill', '--pid', String(a.pid), '--port', String(a.port), '--dry-run')
    expect(r.lines[0]).toMatch(/^DRILL_UNKNOWN: kill: dry run, nothing injected: would SIGKILL pid /)
  })
})

/** The pre-fork fixture: a master and its forked worker, both LISTEN owners of one socket, once the worker listens. */
async function startPrefork() {
  const ready = join(j.tmp(), 'ready.json')
  j.child(spawn('python3', [join(ROOT, 'test/fixtures/proc/prefork.py'), ready], {stdio: 'ignore', detached: true}))
  const master = await waitReady(ready, 'prefork server')
  const worker = await until('the worker listens', async () => (await listenerPids(master.port)).find((p) => p !== master.pid) ?? null)
  return {master, worker}
}

describe('attack-fixes B2: a pre-fork server (master and worker share the LISTEN socket)', () => {
  it('kill --port: the master SIGKILLed, its worker (there before) keeps the port — never DRILL_OK', async () => {
    const ready = join(j.tmp(), 'ready.json')
    const c = spawn('python3', [join(ROOT, 'test/fixtures/proc/prefork.py'), ready], {stdio: 'ignore', detached: true})
    j.child(c)
    const r = await waitReady(ready, 'prefork server')
    await until('the worker listens', async () => {
      const pids = (await listenerPids(r.port)).filter((p) => p !== r.pid)
      return pids.length ? pids : null
    })
    const d = await drill('kill', '--port', String(r.port), '--within', '2s')
    // Observed: DRILL_OK "recovered in 12ms: new pid <worker> on port" — no process was started.
    expect(d.lines[0]).not.toMatch(/^DRILL_OK/)
    expect(d.lines[0]).toMatch(/^DRILL_ALERT/)
    // Fixed: the whole owner set (master, then its worker) is SIGKILLed through the gate; nothing restarts it.
    expect(d.lines[0]).toMatch(/not recovered within 2(\.0)?s: nothing listens on the port/)
    expect(d.code).toBe(2)
  })

  it('supervised: master and worker SIGKILLed, the supervisor starts a new master (new owners) → DRILL_OK', async () => {
    const dir = j.tmp()
    const port = await freePort()
    const sup = spawn(process.execPath, [BIN, 'supervise', '--name', 'pf', '--state-dir', dir, '--port', String(port), '--health-url', `http://127.0.0.1:${port}/`,
      ...SUP_PROBES, '--min-uptime', '200ms', '--grace', '500ms', '--', 'python3', join(ROOT, 'test/fixtures/proc/prefork.py'), join(dir, 'ready.json'), String(port)], {stdio: 'ignore', detached: true})
    j.child(sup)
    const pids = () => listenerPids(port)
    j.later(() => [JSON.parse(readFileSync(join(dir, 'supervise', 'pf.json'), 'utf8'))?.child?.pid ?? 0])
    const before = await until('master and worker listen', async () => ((await pids()).length === 2 && (await answers(port)) ? await pids() : null), 60_000)
    const d = await drill('kill', '--port', String(port), '--within', '60s', ...SLOW_PROBE)
    expect(d.lines[0], d.stderr).toMatch(new RegExp(`^DRILL_OK: kill: recovered in \\S+: new pid \\d+ \\(python3\\) on port ${port}, answers`))
    for (const p of before) expect(alive(p)).toBe(false)
    sup.kill('SIGTERM')
    await new Promise((r) => (sup.exitCode !== null ? r(null) : sup.once('exit', r)))
  }, 90_000)

  it('kill --pid <worker>: only the worker is killed; its master, there before, survives and nothing new comes → DRILL_ALERT naming it', async () => {
    const {master: r, worker} = await startPrefork()
    const d = await drill('kill', '--pid', String(worker), '--port', String(r.port), '--within', '1s')
    expect(d.lines[0]).toMatch(new RegExp(`^DRILL_ALERT: kill: not recovered within 1(\\.0)?s: no new process holds the port: pid ${r.pid} \\(python3\\) held it before the fault and survived`))
    expect(d.code).toBe(2)
    expect(alive(worker)).toBe(false)
    expect(alive(r.pid)).toBe(true)
  })

  it('--dry-run names the whole owner set it would SIGKILL', async () => {
    const {master: r, worker} = await startPrefork()
    const d = await drill('kill', '--port', String(r.port), '--dry-run')
    expect(d.lines[0]).toBe(`DRILL_UNKNOWN: kill: dry run, nothing injected: would SIGKILL pid ${r.pid}, SIGKILL pid ${worker}`)
  })
})

describe('attack-fixes B3: a drill suspended by Ctrl+Z (SIGTSTP) leaves its fault in place', () => {
  it.each(['SIGTSTP', 'SIGTTIN'] as const)('stop drill, %s to medic while the service is stopped: medic must not sit stopped with the fault injected', async (stopSignal) => {
    const svc = await startService(j, ['--port', '0', '--http'])
    // As from a shell with job control (a terminal): medic in a job's process group that is not
    // orphaned — the kernel discards SIGTSTP to an orphaned group, so a plain detached spawn hides this;
    // the shell stays (tail --pid) like an interactive one, or the stopped group would be orphaned and SIGHUPed.
    const pidFile = join(j.tmp(), 'medic.pid')
    const outFile = join(j.tmp(), 'medic.out')
    const sh = spawn('bash', ['-c', 'set -m; "$0" "$@" > ' + outFile + ' & echo $! > ' + pidFile + '; tail --pid=$! -f /dev/null', process.execPath, BIN, 'drill', 'stop', '--port', String(svc.port), '--within', '2s', '--interval', '50ms', '--state-dir', j.tmp()], {stdio: 'ignore', detached: true})
    j.child(sh)
    const pid = await until('medic started', () => {
      try {
        return Number(readFileSync(pidFile, 'utf8').trim()) || null
      } catch {
        return null
      }
    })
    j.track(pid) // its own job group (set -m)
    await until('the service is stopped by the drill', () => procState(svc.pid) === 'T')
    process.kill(pid, stopSignal) // a person at the terminal presses Ctrl+Z
    const how = await until('medic exits or sits stopped', () => (!alive(pid) ? 'exited' : procState(pid) === 'T' && procState(svc.pid) === 'T' ? 'stopped with the fault in place' : null), 30_000)
    try {
      // Observed: medic stopped (state T), the service SIGSTOPped past --within, the guard waiting on an open pipe.
      expect(how).toBe('exited')
      expect(procState(svc.pid)).not.toBe('T')
      // Fixed: the stop is ignored, the drill runs to its verdict (nothing watches: not recovered) and restores.
      expect(readFileSync(outFile, 'utf8').split('\n')[0]).toMatch(/^DRILL_ALERT: stop: not recovered within 2(\.0)?s: .*restored \(SIGCONT\)/)
    } finally {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {}
    }
  })
})
