// medic guard against real processes: a real memory/CPU/disk hog and a real run-dev-safe
// job (with a setsid'd child) both over the limit. Limits are made tiny so a modest hog
// trips them, and every guard run is scoped with --match to this test's own tag, so it
// never looks at another process on this shared machine.
import {spawn} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {actions, HOG, niceOf, oomAdjOf, registryEnv, startDevJob, startHog, tag, untilWhileGuard, watchGuard, skipWhen} from '../helpers/guard.js'
import {alive, BIN, expectContract, Janitor, medic, until, waitReady} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

// Real hogs and run-dev-safe jobs on a shared 2-core host: a load of 10 makes a start take tens of
// seconds. These are safety nets, not timing assertions.
vi.setConfig({testTimeout: 150_000, hookTimeout: 60_000})

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

/** Only one path over its limit at a time: the others can never be over (> 100 %). */
const ONLY = {
  memory: ['--memory-limit', '1', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0'],
  disk: ['--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '1', '--memory-pressure-limit', '0'],
}

describe('medic guard: the contract', () => {
  it('one pass under every limit is GUARD_OK, in both exit-code modes', async () => {
    const dir = j.tmp()
    const args = ['guard', '--state-dir', dir, '--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0', '--sample', '200ms', '--match', tag()]
    const r = await medic(args)
    expectContract(r, 'GUARD_OK')
    expect(r.code).toBe(0)
    expect(r.lines[0]).toMatch(/memory \d+ % ≤ 100 %, cpu \d+ % ≤ 100 %, disk \/ \d+ % ≤ 100 % \(mode dev\)/)
    const b = await medic([...args, '--exit-codes', 'binary', '--json'])
    const o = JSON.parse(b.stdout)
    expect(o).toMatchObject({token: 'GUARD_OK', exitCode: 0, mode: 'dev', enforce: false})
    expect(b.code).toBe(0)
  })

  it('bad input is GUARD_UNKNOWN exit 3, with no stack trace', async () => {
    const dir = j.tmp()
    for (const args of [['--mode', 'staging'], ['--enforce', '--dry-run'], ['--config', join(dir, 'missing.json')], ['--hysteresis', '0'], ['--watch', '5ms']]) {
      const r = await medic(['guard', '--state-dir', dir, ...args])
      expectContract(r, 'GUARD_UNKNOWN')
      expect(r.code).toBe(3)
    }
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({limits: {dev: {memoryPercnt: 5}}}))
    const r = await medic(['guard', '--config', join(dir, 'bad.json'), '--json', '--exit-codes', 'binary'])
    expect(JSON.parse(r.stdout)).toMatchObject({token: 'GUARD_UNKNOWN', summary: expect.stringMatching(/unknown key "memoryPercnt"/)})
    expect(r.code).toBe(3)
  })

  it('status prints the seed\'s get_resource_status shape: plain words off a terminal, the seed\'s strings in JSON', async () => {
    const r = await medic(['guard', 'status', '--memory-limit', '1', '--cpu-limit', '100', '--disk-limit', '100', '--sample', '200ms'])
    expectContract(r, 'GUARD_ALERT')
    expect(r.lines.slice(1).join('\n')).toMatch(/^memory\s+[\d.]+%\s+limit\s+1%\s+CRITICAL$/m)
    expect(r.lines.slice(1).join('\n')).toMatch(/^disk\s+[\d.]+%\s+limit\s+100%\s+(OK|ELEVATED)$/m)
    expect(r.stdout).not.toMatch(/CRÍTICO|🔴/)
    const o = JSON.parse((await medic(['guard', 'status', '--memory-limit', '1', '--disk-limit', '100', '--json'])).stdout)
    expect(o.memory).toMatchObject({limit: 1, status: '🔴 CRÍTICO', level: 'critical'})
    expect(o.memory.current).toBeGreaterThan(1)
    expect(o.disk.status).toMatch(/^(✅ OK|⚠️ {2}ELEVADO)$/)
    expect(Object.keys(o.sample.psi)).toEqual(['memoryFull10', 'memorySome10', 'cpuSome10', 'ioSome10'])
  })
})

describe('medic guard: the memory path', () => {
  it('a dry run names the hog and the protected job, and changes nothing', async () => {
    const t = tag()
    const env = registryEnv(j)
    const hog = await startHog(j, ['--mb', '120', t])
    const job = await startDevJob(j, ['--mb', '150', '--child', '--title', `hog ${t}`, t], env)
    const dir = j.tmp()
    const before = {nice: niceOf(hog.pid), oom: oomAdjOf(hog.pid)}
    const r = await medic(['guard', '--state-dir', dir, ...ONLY.memory, '--hysteresis', '1', '--startup-grace', '0', '--match', t, '--json'], {env})
    const o = JSON.parse(r.stdout)
    expect(o.token).toBe('GUARD_ALERT')
    expect(o.summary).toMatch(new RegExp(`^dry run: memory \\d+ % > 1 % \\(1/1 sample\\): would renice pid ${hog.pid} \\(node hog\\.mjs\\); spared pid (${job.pid}|${job.child}), (${job.pid}|${job.child})`))
    // Line 1 of the text form names both (the token line is what cron mails and heartbeats read).
    const text = await medic(['guard', '--state-dir', dir, ...ONLY.memory, '--hysteresis', '1', '--startup-grace', '0', '--match', t], {env})
    expectContract(text, 'GUARD_ALERT')
    expect(text.lines[0]).toContain(`would renice pid ${hog.pid} `)
    expect(text.lines[0]).toMatch(new RegExp(`spared pid (${job.pid}|${job.child})\\b`))
    expect(o.candidates.memory.map((c: {pid: number}) => c.pid)).toEqual([hog.pid])
    expect(o.spared.map((s: {pid: number}) => s.pid).sort()).toEqual([job.pid, job.child].sort())
    expect(o.spared.find((s: {pid: number}) => s.pid === job.pid).reason).toMatch(/protected by run-dev-safe/)
    expect(o.actions).toEqual([expect.objectContaining({action: 'renice', result: 'dry run: not done'})])
    expect({nice: niceOf(hog.pid), oom: oomAdjOf(hog.pid)}).toEqual(before)
    expect(existsSync(join(dir, 'guard', 'actions.jsonl'))).toBe(false)
    expect(existsSync(join(dir, 'guard', 'state.json'))).toBe(false)
    expect([hog.pid, job.pid, job.child!].every(alive)).toBe(true)
  })

  it('--enforce renices, SIGTERMs, then SIGKILLs the hog that ignores SIGTERM — never the job nor its setsid\'d, renamed child', async () => {
    const t = tag()
    const env = registryEnv(j)
    const hog = await startHog(j, ['--mb', '120', '--ignore-term', t])
    // The job is bigger (ranked first by oom_score were it not protected) and renames itself like the hog.
    const job = await startDevJob(j, ['--mb', '150', '--child', '--title', `hog ${t}`, t], env)
    const dir = j.tmp()
    const g = watchGuard(['--state-dir', dir, ...ONLY.memory, '--hysteresis', '2', '--grace', '1s', '--startup-grace', '0', '--watch', '300ms', '--enforce', '--match', t], env)
    j.child(g.proc)
    await untilWhileGuard(g, 'the hog to be killed', () => !alive(hog.pid))
    const out = await g.stop()
    expect(out.code).toBe(0)
    expect(out.stdout.split('\n')[0]).toMatch(/^GUARD_ALERT: memory \d+ % > 1 %/)
    expect(out.stderr).toMatch(new RegExp(`renice 19 and raise oom_score_adj to 1000: pid ${hog.pid}`))
    expect(out.stderr).toMatch(new RegExp(`SIGKILL pid ${hog.pid} .*alive \\d+s after SIGTERM`))
    expect(alive(job.pid)).toBe(true)
    expect(alive(job.child!)).toBe(true)
    expect(niceOf(job.child!)).toBe(10) // run-dev-safe's, never the guard's 19
    const acts = actions(dir)
    expect(acts.map((a) => `${a.action}:${a.victim.pid}:${a.result}`)).toEqual([`renice:${hog.pid}:sent`, `term:${hog.pid}:sent`, `kill:${hog.pid}:sent`])
    expect(acts[1].reason).toMatch(/^memory \d+ % > 1 % for \d+ samples$/)
    expect(acts.every((a) => a.victim.pid !== job.pid && a.victim.pid !== job.child)).toBe(true)
  })
})

describe('medic guard: the CPU path', () => {
  it('--enforce SIGTERMs the spinning hog, never the spinning job nor its setsid\'d child', async () => {
    const t = tag()
    const env = registryEnv(j)
    const dir = j.tmp()
    const config = join(dir, 'limits.json')
    // Tiny limits so one spinning process trips them on a shared, busy machine; memory and disk can never be over.
    writeFileSync(config, JSON.stringify({limits: {dev: {cpuPercent: 1, candidateCpuPercent: 5, killCpuPercent: 10, preferNice: false, memoryPercent: 100, memoryPressurePercent: null, diskPercent: 100, startupGraceSeconds: 0}}}))
    const hog = await startHog(j, ['--spin', t])
    const job = await startDevJob(j, ['--spin', '--child', t], env)
    const g = watchGuard(['--state-dir', dir, '--config', config, '--hysteresis', '2', '--grace', '2s', '--watch', '400ms', '--enforce', '--match', t], env)
    j.child(g.proc)
    await untilWhileGuard(g, 'the hog to be stopped', () => !alive(hog.pid))
    const out = await g.stop()
    expect(out.stderr).toMatch(new RegExp(`SIGTERM pid ${hog.pid} .*— cpu \\d+ % > 1 % for \\d+ samples`))
    expect(alive(job.pid)).toBe(true)
    expect(alive(job.child!)).toBe(true)
    expect(actions(dir).every((a) => a.victim.pid === hog.pid && a.resource === 'cpu')).toBe(true)
  })

  it('prefer-nice (the isolation table in dev and test) renices the hog and never signals it', async () => {
    const t = tag()
    const dir = j.tmp()
    const config = join(dir, 'limits.json')
    writeFileSync(config, JSON.stringify({limits: {dev: {cpuPercent: 1, candidateCpuPercent: 5, killCpuPercent: 10, preferNice: true, memoryPercent: 100, memoryPressurePercent: null, diskPercent: 100, startupGraceSeconds: 0}}}))
    const hog = await startHog(j, ['--spin', t])
    const pass = () => medic(['guard', '--state-dir', dir, '--config', config, '--hysteresis', '1', '--enforce', '--match', t, '--sample', '500ms', '--json'])
    const runs = [JSON.parse((await pass()).stdout), JSON.parse((await pass()).stdout), JSON.parse((await pass()).stdout)]
    expect(runs.map((o) => o.over.cpu)).toEqual([1, 2, 3])
    expect(alive(hog.pid)).toBe(true)
    // Reniced at once; never signalled. (On a busy machine the reniced hog may drop under the
    // candidate threshold and get its nice back, then be reniced again: that is the ladder too.)
    const acts = actions(dir).map((a) => `${a.action}:${a.victim.pid}`)
    expect(acts[0]).toBe(`renice:${hog.pid}`)
    expect(acts.filter((a) => a.startsWith('term') || a.startsWith('kill'))).toEqual([])
  })
})

describe('medic guard: the disk path', () => {
  it('reports the writer and signals nothing, even with --enforce', async () => {
    const t = tag()
    const env = registryEnv(j)
    const hog = await startHog(j, ['--write', j.tmp(), t])
    const job = await startDevJob(j, ['--write', j.tmp(), t], env)
    const dir = j.tmp()
    // The writer is a candidate only if it dirtied a page between the two samples (it writes every
    // 20 ms); on a loaded host it went 500 ms without a turn. The window is the budget: 3 s.
    const r = await medic(['guard', '--state-dir', dir, ...ONLY.disk, '--hysteresis', '1', '--startup-grace', '0', '--enforce', '--match', t, '--sample', '3s', '--json'], {env})
    const o = JSON.parse(r.stdout)
    expect(o.token).toBe('GUARD_ALERT')
    expect(o.summary).toMatch(/^disk \/ \d+ % > 1 % \(1 sample\): report only/)
    expect(o.notes.join()).toMatch(/disk is reported only, nothing is deleted or signalled/)
    expect(o.candidates.disk.map((c: {pid: number}) => c.pid)).toEqual([hog.pid])
    expect(o.spared.map((s: {pid: number}) => s.pid)).toContain(job.pid)
    expect(o.actions).toEqual([])
    expect(actions(dir)).toEqual([])
    expect(alive(hog.pid) && alive(job.pid)).toBe(true)
    expect(niceOf(hog.pid)).toBe(0)
  })
})

describe('medic guard: a sample never blocks', () => {
  it('a disk path whose statfs never answers (a hung FUSE mount) is UNKNOWN on time; the pass ends, and a watch acts and stops', async (ctx) => {
    if (skipWhen(ctx, process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse to mount a FUSE file system nobody answers' : null)) return
    const mnt = j.tmp()
    // A private mount namespace: a FUSE mount whose daemon end (fd 3, kept by the guard) is never read.
    const hung = (args: string[]) => ['-m', '--propagation', 'private', 'sh', '-c', 'exec 3<>/dev/fuse && mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 medic-hang "$1" && shift && exec "$@"', 'sh', mnt, process.execPath, BIN, 'guard', ...args]
    const run = (args: string[]) => new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => {
      const p = spawn('unshare', hung(args), {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
      j.child(p)
      let stdout = ''
      let stderr = ''
      p.stdout!.on('data', (d) => (stdout += d))
      p.stderr!.on('data', (d) => (stderr += d))
      p.once('close', (code) => resolve({code, stdout, stderr}))
    })
    const one = await run(['--disk-path', mnt, '--disk-path', '/', '--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0', '--sample', '100ms', '--match', tag(), '--json'])
    const o = JSON.parse(one.stdout)
    expect(o.checks.find((c: {name: string}) => c.name === 'disk')).toMatchObject({status: 'UNKNOWN', detail: expect.stringContaining(`${mnt}: statfs did not answer within`)})
    expect(o.sample.disks).toEqual([{path: mnt, usedPercent: null}, {path: '/', usedPercent: expect.any(Number)}])
    // A watch: the memory path still acts on the hog sample after sample, and SIGTERM still ends it.
    const t = tag()
    const hog = await startHog(j, ['--mb', '120', t])
    const dir = j.tmp()
    const p = spawn('unshare', hung(['--state-dir', dir, '--disk-path', mnt, ...ONLY.memory, '--hysteresis', '2', '--grace', '1s', '--startup-grace', '0', '--watch', '200ms', '--enforce', '--match', t]), {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    j.child(p)
    let err = ''
    p.stderr!.on('data', (d) => (err += d))
    const closed = new Promise<number | null>((r) => p.once('close', (c) => r(c)))
    await until('the hog to be stopped while the disk path hangs', () => !alive(hog.pid), 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- guard stderr:\n${err}`)
    })
    // The guard is unshare's child (exec'd): its pid is unshare's.
    process.kill(p.pid!, 'SIGTERM')
    expect(await closed).toBe(0)
    expect(actions(dir).map((a) => a.action)).toEqual(['renice', 'term'])
  })
})

describe('medic guard: one pass keeps its counts in the state dir', () => {
  it('acts only at the N-th consecutive pass over the limit', async () => {
    const t = tag()
    const hog = await startHog(j, ['--mb', '120', t])
    const dir = j.tmp()
    const pass = () => medic(['guard', '--state-dir', dir, ...ONLY.memory, '--hysteresis', '3', '--startup-grace', '0', '--enforce', '--match', t, '--sample', '100ms', '--json'])
    const o1 = JSON.parse((await pass()).stdout)
    const o2 = JSON.parse((await pass()).stdout)
    expect([o1.over.memory, o2.over.memory]).toEqual([1, 2])
    expect(niceOf(hog.pid)).toBe(0)
    const o3 = JSON.parse((await pass()).stdout)
    expect(o3.over.memory).toBe(3)
    expect(o3.summary).toMatch(new RegExp(`reniced pid ${hog.pid}`))
    expect(niceOf(hog.pid)).toBe(19)
    // Every thread of it (setpriority(2) sets one thread on Linux; node runs several).
    const threads = () => readdirSync(`/proc/${hog.pid}/task`).map((t) => niceOf(Number(t), hog.pid))
    expect(threads().length).toBeGreaterThan(1)
    expect(new Set(threads())).toEqual(new Set([19]))
    expect(JSON.parse(readFileSync(join(dir, 'guard', 'state.json'), 'utf8')).victims).toEqual([expect.objectContaining({pid: hog.pid, stage: 'reniced'})])
    // Under the limit again: the renice is given back.
    const r = await medic(['guard', '--state-dir', dir, '--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0', '--enforce', '--match', t, '--sample', '100ms'])
    expectContract(r, 'GUARD_OK')
    expect(r.lines[0]).toMatch(new RegExp(`gave back the priority of pid ${hog.pid}`))
    expect(niceOf(hog.pid)).toBe(0)
    expect(new Set(threads())).toEqual(new Set([0]))
  })

  it('a forged state cannot make it "give back" a priority it never took (nor raise an oom_score_adj)', async () => {
    const t = tag()
    const hog = await startHog(j, ['--mb', '10', t])
    const dir = j.tmp()
    mkdirSync(join(dir, 'guard'), {recursive: true, mode: 0o700})
    chmodSync(dir, 0o700)
    const st = readFileSync(`/proc/${hog.pid}/stat`, 'latin1')
    const startTime = st.slice(st.lastIndexOf(')') + 2).split(' ')[19]
    const forged = {version: 1, over: {memory: 0, cpu: 0, disk: 0}, lastAt: null, kills: [], victims: [{pid: hog.pid, startTime, comm: 'node', cmdline: ['node'], resource: 'memory', stage: 'reniced', at: Date.now(), reason: 'forged', nice0: -20, oomScoreAdj0: 1000}]}
    writeFileSync(join(dir, 'guard', 'state.json'), JSON.stringify(forged))
    const before = {nice: niceOf(hog.pid), oom: oomAdjOf(hog.pid)}
    const r = await medic(['guard', '--state-dir', dir, '--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0', '--enforce', '--match', t, '--sample', '100ms'])
    expectContract(r, 'GUARD_OK')
    expect(r.lines[0]).toMatch(new RegExp(`did not give back the priority of pid ${hog.pid}`))
    expect(r.stderr).toMatch(/not given back: nice is 0, not the 19 medic set; oom_score_adj is 0, not the 1000 medic set/)
    expect({nice: niceOf(hog.pid), oom: oomAdjOf(hog.pid)}).toEqual(before)
  })

  it('a second enforcing guard is refused while one acts', async () => {
    const dir = j.tmp()
    const g = watchGuard(['--state-dir', dir, '--memory-limit', '100', '--cpu-limit', '100', '--disk-limit', '100', '--memory-pressure-limit', '0', '--watch', '300ms', '--enforce', '--match', tag()], {})
    j.child(g.proc)
    await until('the first guard to hold its lock', () => existsSync(join(dir, 'locks', 'guard.lock')))
    const r = await medic(['guard', '--state-dir', dir, '--enforce', '--match', tag()])
    expectContract(r, 'GUARD_UNKNOWN')
    expect(r.lines[0]).toMatch(/another guard is acting: pid \d+/)
    await g.stop()
  })
})

describe('medic guard: whom it may touch', () => {
  it('as root, a config another user can change is refused (its limits and dev patterns would choose whom the guard kills)', async (ctx) => {
    if (skipWhen(ctx, process.getuid?.() !== 0 ? 'needs root: a user reads the configs it is given' : null)) return
    const dir = j.tmp()
    const cfg = join(dir, 'medic.isolation.json')
    writeFileSync(cfg, JSON.stringify({limits: {dev: {memoryPercent: 1}}, devPatterns: []}))
    chownSync(cfg, 4242, 4242)
    for (const args of [['guard', '--enforce', '--match', tag()], ['guard', 'status'], ['isolate', '--', 'true']]) {
      const r = await medic([...args.slice(0, args.indexOf('--') < 0 ? args.length : args.indexOf('--')), '--config', cfg, '--state-dir', j.tmp(), ...(args.includes('--') ? args.slice(args.indexOf('--')) : [])])
      // Bad input, before any job: the token on stdout, wrapper or not.
      expect(r.lines[0], args.join(' ')).toMatch(new RegExp(`^(GUARD|DEVRUN)_UNKNOWN: config ${cfg}: refused`))
      expect(r.stderr, args.join(' ')).toContain(`${cfg} is owned by uid 4242`)
      expect(r.code).toBe(3)
    }
    // The same file, root's and not writable by others, is read.
    chownSync(cfg, 0, 0)
    expectContract(await medic(['guard', '--config', cfg, '--match', tag(), '--state-dir', j.tmp(), '--sample', '100ms']), 'GUARD_ALERT')
  })

  it("as another user: its own hog is a candidate, root's never is", async (ctx) => {
    if (skipWhen(ctx, users.cannot())) return
    const u = users.create()
    const t = tag()
    const rootHog = await startHog(j, ['--mb', '120', t])
    const userHog = await startHog(j, ['--mb', '120', t], {uid: u.uid})
    const dir = j.tmp()
    chmodSync(dir, 0o777)
    const r = await medic(['guard', '--state-dir', join(dir, 'state'), ...ONLY.memory, '--hysteresis', '1', '--startup-grace', '0', '--enforce', '--match', t, '--sample', '100ms', '--json'], {uid: u.uid, env: {HOME: u.home}, cwd: dir})
    const o = JSON.parse(r.stdout)
    expect(o.candidates.memory.map((c: {pid: number}) => c.pid)).toEqual([userHog.pid])
    expect(o.spared.map((s: {pid: number}) => s.pid)).not.toContain(rootHog.pid)
    expect(niceOf(userHog.pid)).toBe(19)
    expect(niceOf(rootHog.pid)).toBe(0)
  })

  it('kill-trace names the guard and its reason when the guard kills the traced job', async (ctx) => {
    if (skipWhen(ctx, process.getuid?.() !== 0 ? 'tracefs needs root' : null)) return
    const t = tag()
    const dir = j.tmp()
    const ready = join(dir, 'hog.json')
    const kt = spawn(process.execPath, [BIN, 'kill-trace', '--state-dir', dir, '--json', '--', process.execPath, HOG, '--mb', '120', '--ignore-term', t, '--ready', ready], {stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {...process.env, NO_COLOR: '1'}})
    j.child(kt)
    let out = ''
    kt.stdout!.on('data', (d) => (out += d))
    const ended = new Promise<number | null>((r) => kt.once('exit', (c) => r(c)))
    const hog = (await waitReady(ready, 'traced hog')) as unknown as {pid: number}
    j.track(hog.pid)
    const g = watchGuard(['--state-dir', dir, ...ONLY.memory, '--hysteresis', '1', '--grace', '500ms', '--startup-grace', '0', '--watch', '200ms', '--enforce', '--match', t], {})
    j.child(g.proc)
    expect(await ended).toBe(2)
    await g.stop()
    const o = JSON.parse(out)
    expect(o.summary).toMatch(new RegExp(`^killed by SIGKILL \\(exit status 137 = 128 \\+ 9\\); sent by medic guard \\(pid ${g.proc.pid}\\) — memory \\d+ % > 1 % for \\d+ samples`))
    expect(o.causes[0]).toMatch(/^medic guard, memory \d+ % > 1 % for \d+ samples \(SIGKILL after its SIGTERM and grace; guard pid \d+\)$/)
  })
})

describe('medic guard: attacks on the protected job', () => {
  it('a pid the state names as a victim, now reused by another process, is never signalled', async () => {
    const t = tag()
    const other = await startHog(j, ['--mb', '5', t]) // holds the "victim's" pid number, with another start time
    const dir = j.tmp()
    const stale = {version: 1, over: {memory: 5, cpu: 0, disk: 0}, lastAt: Date.now() - 2000, kills: [],
      victims: [{pid: other.pid, startTime: '1', comm: 'node', cmdline: ['node'], resource: 'memory', stage: 'termed', at: Date.now() - 60_000, reason: 'x', nice0: 0, oomScoreAdj0: 0}]}
    mkdirSync(join(dir, 'guard'), {recursive: true})
    writeFileSync(join(dir, 'guard', 'state.json'), JSON.stringify(stale))
    const r = await medic(['guard', '--state-dir', dir, ...ONLY.memory, '--hysteresis', '1', '--startup-grace', '0', '--enforce', '--match', t, '--sample', '100ms', '--json'])
    expect(JSON.parse(r.stdout).victims).toEqual([])
    expect(alive(other.pid)).toBe(true)
    expect(niceOf(other.pid)).toBe(0)
    expect(actions(dir)).toEqual([])
  })

  it('a double-forked, reparented, renamed daemon of the job is spared; a look-alike hog is not', async () => {
    const t = tag()
    const env = registryEnv(j)
    const job = await startDevJob(j, ['--mb', '150', '--child', '--orphan', '--title', `node hog.mjs ${t}`, t], env)
    const st = readFileSync(`/proc/${job.child}/stat`, 'latin1')
    expect(Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1])).not.toBe(job.pid) // reparented away from the job
    const hog = await startHog(j, ['--mb', '120', '--ignore-term', t])
    const dir = j.tmp()
    const g = watchGuard(['--state-dir', dir, ...ONLY.memory, '--hysteresis', '1', '--grace', '500ms', '--startup-grace', '0', '--watch', '200ms', '--enforce', '--match', t], env)
    j.child(g.proc)
    await untilWhileGuard(g, 'the hog to be killed', () => !alive(hog.pid))
    await g.stop()
    expect(alive(job.pid) && alive(job.child!)).toBe(true)
    expect(actions(dir).every((a) => a.victim.pid === hog.pid)).toBe(true)
  })
})
