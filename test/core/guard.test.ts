import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {DEV_PATTERNS, envFileText, ISOLATION_LIMITS, isolationDocument, literalPattern, parseGuardConfig, PROTECTOR_LIMITS, shQuote, type Limits} from '../../src/core/guard-config.js'
import {assess, commit, decide, initialState, parseState, pct, stepLine, type DecideInput, type GuardState, type HostSample, type LadderConfig} from '../../src/core/guard-ladder.js'
import {undoable} from '../../src/core/protect.js'
import {cpuBusyPercent, LOCAL_FS_TYPES, memoryUsedPercent, mountTypeOf, parseCpuTimes, parseMeminfo, parsePressure, parseProcStatus, parseWriteBytes, procCpuPercent} from '../../src/core/guard-parse.js'
import {classify, rank, systemService, type ProcSample, type Resource, type Scope} from '../../src/core/guard-rank.js'
import {resourceStatus, statusLines} from '../../src/core/guard-status.js'

describe('guard parsers', () => {
  it('reads PSI lines, with and without full', () => {
    const p = parsePressure('some avg10=88.20 avg60=55.39 avg300=41.20 total=3639650529\nfull avg10=1.50 avg60=0.00 avg300=0.00 total=7\n')
    expect(p).toEqual({some: {avg10: 88.2, avg60: 55.39, avg300: 41.2, total: 3639650529}, full: {avg10: 1.5, avg60: 0, avg300: 0, total: 7}})
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')?.full).toBeNull()
    expect(parsePressure('garbage')).toBeNull()
  })

  it('reads the real /proc/pressure files of this host', () => {
    for (const r of ['memory', 'cpu', 'io']) expect(parsePressure(readFileSync(`/proc/pressure/${r}`, 'utf8'))?.some.avg10).toBeGreaterThanOrEqual(0)
  })

  it('measures memory by MemAvailable, and refuses a meminfo without it', () => {
    const m = parseMeminfo('MemTotal:       1000 kB\nMemFree:         10 kB\nMemAvailable:    70 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n')!
    expect(memoryUsedPercent(m)).toBeCloseTo(93)
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 10 kB\n')).toBeNull()
    expect(memoryUsedPercent(parseMeminfo(readFileSync('/proc/meminfo', 'utf8'))!)).toBeGreaterThan(0)
  })

  it('turns two /proc/stat readings into a busy share, iowait counted idle', () => {
    const a = parseCpuTimes('cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n')!
    const b = parseCpuTimes('cpu  250 0 150 850 50 0 0 0 0 0\n')!
    expect(cpuBusyPercent(a, b)).toBeCloseTo(200 / 300 * 100)
    expect(cpuBusyPercent(a, a)).toBeNull()
    expect(parseCpuTimes('intr 1 2')).toBeNull()
  })

  it('gives per-process CPU in % of one core', () => {
    expect(procCpuPercent(100, 200, 1000, 100)).toBe(100)
    expect(procCpuPercent(100, 150, 2000, 100)).toBe(25)
    expect(procCpuPercent(100, 90, 1000, 100)).toBeNull()
  })

  it('reads status and io', () => {
    expect(parseProcStatus('Name:\tx\nUid:\t1000\t1000\t1000\t1000\nVmSize:\t 100 kB\nVmRSS:\t  2048 kB\n')).toEqual({uid: 1000, rssKiB: 2048, kernelThread: false})
    expect(parseProcStatus('Name:\tkthreadd\nUid:\t0\t0\t0\t0\nKthread:\t1\n')?.kernelThread).toBe(true)
    expect(parseWriteBytes('rchar: 1\nwrite_bytes: 4096\n')).toBe(4096)
  })
})

describe('guard config', () => {
  it('keeps both seed tables: the protector\'s as defaults, the isolation script\'s as what medic isolation writes', () => {
    expect(PROTECTOR_LIMITS.dev).toMatchObject({cpuPercent: 75, memoryPercent: 80, diskPercent: 90, startupGraceSeconds: 60})
    expect(PROTECTOR_LIMITS.prod).toMatchObject({cpuPercent: 95, memoryPercent: 95, diskPercent: 95, startupGraceSeconds: 120})
    expect(ISOLATION_LIMITS.test).toMatchObject({cpuPercent: 85, memoryPercent: 88, killCpuPercent: 90, startupGraceSeconds: 30, preferNice: true})
    expect(ISOLATION_LIMITS.prod).toMatchObject({killCpuPercent: 98, preferNice: false})
  })

  it('reads its own document back, and rejects typos, bad modes and out-of-range values', () => {
    const doc = JSON.parse(isolationDocument({mode: 'test'}))
    const r = parseGuardConfig(doc, '/p/medic.isolation.json')
    expect(r.ok && r.config.mode).toBe('test')
    expect(r.ok && r.config.limits.test.memoryPercent).toBe(88)
    const bad = (o: unknown) => {
      const x = parseGuardConfig(o, 'f')
      return x.ok ? 'ok' : x.reason
    }
    expect(bad({mode: 'staging'})).toMatch(/mode must be one of dev, test, prod/)
    expect(bad({limits: {test: {memoryPercnt: 1}}})).toMatch(/unknown key "memoryPercnt"/)
    expect(bad({limits: {test: {memoryPercent: 101}}})).toMatch(/from 0 to 100/)
    expect(bad({limits: {test: {preferNice: 'yes'}}})).toMatch(/true or false/)
    expect(bad({limitz: {}})).toMatch(/unknown key/)
    expect(bad({protect: ['(']})).toMatch(/not a regular expression/)
    expect(bad({runDevSafe: {memoryMax: 10}})).toMatch(/memoryMax/)
    expect(bad([])).toMatch(/JSON object/)
    const partial = parseGuardConfig({limits: {dev: {memoryPercent: 5}}}, 'f')
    expect(partial.ok && partial.config.limits.dev).toMatchObject({memoryPercent: 5, cpuPercent: 75})
  })

  it('writes an env file whose every line is exported and quoted', () => {
    const t = envFileText({configPath: "/p/it's/medic.isolation.json", envPath: '/p/.env.resource_config', mode: 'test', devPatterns: ['pytest', 'a b'], nice: 10})
    const lines = t.split('\n').filter((l) => l && !l.startsWith('#'))
    expect(lines.every((l) => /^export [A-Z_]+='/.test(l))).toBe(true)
    expect(t).toContain(`export MEDIC_ISOLATION_CONFIG=${shQuote("/p/it's/medic.isolation.json")}`)
    expect(t).toContain("export OMNIMIND_DEV_PATTERNS='pytest|a b'")
  })

  it('matches patterns as literal, case-insensitive substrings', () => {
    expect(literalPattern('python -m unittest').test('/usr/bin/PYTHON -m unittest x')).toBe(true)
    expect(literalPattern('web.backend.main').test('webXbackendXmain')).toBe(false)
  })
})

const proc = (o: Partial<ProcSample> & {pid: number}): ProcSample => ({
  startTime: String(1000 + o.pid), comm: 'node', cmdline: ['node', `p${o.pid}.js`], ppid: 100, sid: 100, ttyNr: 0, uid: 0, kernelThread: false, rssKiB: 0,
  oomScore: null, cpuPercent: null, writeBps: null, cgroup: '/', devFlag: false, supervised: false, refusal: null, ...o,
})

const scope = (o: Partial<Scope> = {}): Scope => ({uid: 0, ownTree: new Set([50]), devPatterns: DEV_PATTERNS.map(literalPattern), daemonPatterns: ['redis'].map(literalPattern), ...o})

describe('guard candidates and ranking', () => {
  it('spares protected processes on every path, not only CPU (the seed\'s bug)', () => {
    const job = proc({pid: 10, rssKiB: 900_000, cpuPercent: 99, writeBps: 1e6, oomScore: 900, refusal: {kind: 'registered', reason: 'protected by run-dev-safe (job "train")'}})
    const hog = proc({pid: 11, rssKiB: 300_000, cpuPercent: 95, writeBps: 10, oomScore: 300})
    for (const r of ['memory', 'cpu', 'disk'] as Resource[]) {
      const x = rank([job, hog], r, scope(), {candidateRssMiB: 100, candidateCpuPercent: 80})
      expect(x.candidates.map((p) => p.pid)).toEqual([11])
      expect(x.spared).toEqual([{proc: job, reason: 'protected by run-dev-safe (job "train")'}])
    }
  })

  it('spares dev jobs by pattern and by the seed\'s environment flag, daemons, supervised services; leaves out system services', () => {
    expect(classify(proc({pid: 12, cmdline: ['python', '-m', 'PyTest']}), scope())).toMatchObject({kind: 'spared', reason: expect.stringMatching(/dev pattern "pytest"/)})
    expect(classify(proc({pid: 13, devFlag: true}), scope())).toMatchObject({kind: 'spared', reason: expect.stringMatching(/OMNIMIND_DEV_SCRIPT_MODE/)})
    expect(classify(proc({pid: 14, cmdline: ['redis-server']}), scope())).toMatchObject({kind: 'spared'})
    expect(classify(proc({pid: 15, supervised: true}), scope())).toMatchObject({kind: 'spared'})
    expect(classify(proc({pid: 16, uid: 106}), scope())).toMatchObject({kind: 'out'})
    expect(classify(proc({pid: 17, cgroup: '/system.slice/redis.service'}), scope())).toMatchObject({kind: 'out'})
    expect(classify(proc({pid: 18, ppid: 1, sid: 18}), scope())).toMatchObject({kind: 'out', reason: expect.stringMatching(/root daemon/)})
    expect(systemService(proc({pid: 19, uid: 1000, ppid: 1, sid: 19}))).toBeNull()
  })

  it('leaves out pid 1, kernel threads, its own tree, --match misses, and (not root) other users', () => {
    expect(classify(proc({pid: 1}), scope()).kind).toBe('out')
    expect(classify(proc({pid: 30, kernelThread: true}), scope()).kind).toBe('out')
    expect(classify(proc({pid: 50}), scope()).kind).toBe('out')
    expect(classify(proc({pid: 31, refusal: {kind: 'unmatched', reason: 'does not match --match x'}}), scope()).kind).toBe('out')
    expect(classify(proc({pid: 32, uid: 0}), scope({uid: 1000})).kind).toBe('out')
    expect(classify(proc({pid: 33, uid: 1000}), scope({uid: 1000})).kind).toBe('candidate')
    // A --match miss is out of scope even when it would also be spared (a dev job elsewhere on the host is not this guard's to name).
    expect(classify(proc({pid: 34, cmdline: ['python', '-m', 'pytest']}), scope({match: /guardtest1/})).kind).toBe('out')
    expect(classify(proc({pid: 35, cmdline: ['python', '-m', 'pytest', 'guardtest1']}), scope({match: /guardtest1/})).kind).toBe('spared')
  })

  it('ranks memory like earlyoom (oom_score, then RSS), CPU by % of a core, disk by write rate', () => {
    const a = proc({pid: 40, rssKiB: 500_000, oomScore: 100, cpuPercent: 85, writeBps: 5})
    const b = proc({pid: 41, rssKiB: 200_000, oomScore: 700, cpuPercent: 99, writeBps: 50})
    const c = proc({pid: 42, rssKiB: 50_000, oomScore: 999, cpuPercent: 10})
    const t = {candidateRssMiB: 100, candidateCpuPercent: 80}
    expect(rank([a, b, c], 'memory', scope(), t).candidates.map((p) => p.pid)).toEqual([41, 40])
    expect(rank([a, b, c], 'cpu', scope(), t).candidates.map((p) => p.pid)).toEqual([41, 40])
    expect(rank([a, b, c], 'disk', scope(), t).candidates.map((p) => p.pid)).toEqual([41, 40])
  })
})

const limits = (o: Partial<Limits> = {}): Limits => ({...PROTECTOR_LIMITS.test, memoryPercent: 88, cpuPercent: 85, diskPercent: 90, ...o})
const sample = (o: {mem?: number | null; cpu?: number | null; disk?: number; psiFull?: number; at?: number} = {}): HostSample => ({
  at: o.at ?? 0,
  memory: o.mem === null ? null : {usedPercent: o.mem ?? 50, totalKiB: 1, availableKiB: 1},
  cpuBusyPercent: o.cpu === undefined ? 10 : o.cpu,
  pressure: {memory: {some: {avg10: 0, avg60: 0, avg300: 0, total: 0}, full: {avg10: o.psiFull ?? 0, avg60: 0, avg300: 0, total: 0}}, cpu: null, io: null},
  disks: [{path: '/', usedPercent: o.disk ?? 40}],
})

describe('guard readings', () => {
  it('says why, the way kill-trace will quote it', () => {
    const r = assess(sample({mem: 93.2}), limits())
    expect(r.find((x) => x.resource === 'memory')).toMatchObject({over: true, why: 'memory 93 % > 88 %'})
    expect(assess(sample({mem: 88.3}), limits())[0].why).toBe('memory 88.3 % > 88 %')
    expect(assess(sample({psiFull: 70}), limits())[0]).toMatchObject({over: true, why: 'memory pressure 70 % ≥ 60 % (PSI full avg10)'})
    expect(assess(sample({disk: 97}), limits())[2]).toMatchObject({over: true, why: 'disk / 97 % > 90 %'})
    expect(assess(sample({mem: null}), limits())[0]).toMatchObject({value: null, over: false})
    expect(pct(88.04, 88)).toBe('88.0 %')
  })

  it('prints the seed\'s status shape and strings', () => {
    const s = resourceStatus(assess(sample({mem: 93, cpu: 70, disk: 10}), limits()))
    expect(s.memory).toMatchObject({current: 93, limit: 88, status: '🔴 CRÍTICO'})
    expect(s.cpu.status).toBe('⚠️  ELEVADO')
    expect(s.disk.status).toBe('✅ OK')
    expect(statusLines(s, false).join('\n')).toMatch(/memory\s+93\.0%\s+limit\s+88%\s+CRITICAL/)
    expect(statusLines(s, true).join('\n')).toContain('🔴 CRÍTICO')
  })
})

describe('guard ladder (a step function of now)', () => {
  const cfg: LadderConfig = {limits: limits(), hysteresis: 3, graceMs: 10_000, killsPerHour: 2, startupUntil: 0, staleMs: 60_000}
  const hog = proc({pid: 60, rssKiB: 400_000, oomScore: 500, cpuPercent: 99})
  const job = proc({pid: 61, rssKiB: 800_000, oomScore: 900, cpuPercent: 99, refusal: {kind: 'registered', reason: 'protected by run-dev-safe (job "x")'}})
  const ranked = (procs: ProcSample[], c = cfg) => Object.fromEntries((['memory', 'cpu', 'disk'] as Resource[]).map((r) => [r, rank(procs, r, scope(), c.limits)])) as DecideInput['ranked']
  const alive = new Set(['60', '61'])
  const run = (state: GuardState, now: number, s: HostSample, c = cfg, procs = [hog, job]) =>
    decide({state, now, readings: assess(s, c.limits), ranked: ranked(procs, c), live: (pid) => alive.has(String(pid)), cfg: c})
  /** Applies every step as if the gate sent it. */
  const apply = (d: ReturnType<typeof decide>, now: number) => d.steps.reduce((s, st) => commit(s, st, 'sent', now, {nice: 0, oomScoreAdj: 0}), d.state)

  it('reports until N consecutive samples, then renices, SIGTERMs, and SIGKILLs after the grace — never the protected job', () => {
    let st = initialState()
    const seen: string[] = []
    for (let t = 0; t <= 20_000; t += 2000) {
      const d = run(st, t, sample({mem: 93}))
      for (const s of d.steps) seen.push(`${t}:${s.action}:${'pid' in s.target ? s.target.pid : ''}`)
      st = apply(d, t)
      if (t === 2000) expect(d.notes.join()).toMatch(/memory 93 % > 88 % \(2 of 3 samples before acting\)/)
    }
    expect(seen).toEqual(['4000:renice:60', '6000:term:60', '16000:kill:60'])
    expect(st.kills).toEqual([6000])
  })

  it('names the reason with the sample count, as kill-trace quotes it', () => {
    let st = initialState()
    for (let t = 0; t < 3; t++) st = apply(run(st, t * 2000, sample({mem: 93})), t * 2000)
    expect(st.victims[0]).toMatchObject({pid: 60, stage: 'reniced', reason: 'memory 93 % > 88 % for 3 samples'})
    const d = run(st, 6000, sample({mem: 93}))
    expect(stepLine(d.steps[0], false)).toBe('SIGTERM pid 60 (node p60.js) — memory 93 % > 88 % for 4 samples')
    expect(stepLine(d.steps[0], true)).toMatch(/^would SIGTERM/)
  })

  it('resets the count on a sample under the limit and on a stale state', () => {
    let st = initialState()
    st = run(st, 0, sample({mem: 93})).state
    st = run(st, 2000, sample({mem: 93})).state
    st = run(st, 4000, sample({mem: 50})).state
    expect(st.over.memory).toBe(0)
    st = run(st, 6000, sample({mem: 93})).state
    st = run(st, 6000 + cfg.staleMs + 1, sample({mem: 93})).state
    expect(st.over.memory).toBe(1)
  })

  it('gives the renice back when the pressure is gone, and leaves a SIGTERM survivor alone', () => {
    let st = initialState()
    for (let t = 0; t < 3; t++) st = apply(run(st, t * 2000, sample({mem: 93})), t * 2000)
    const d = run(st, 6000, sample({mem: 40}))
    expect(d.steps.map((s) => s.action)).toEqual(['restore'])
    expect(d.state.victims).toEqual([])
  })

  it('does nothing in the startup grace, and stops signalling when the hourly budget is spent', () => {
    const d = run(initialState(), 0, sample({mem: 93}), {...cfg, hysteresis: 1, startupUntil: 30_000})
    expect(d.steps).toEqual([])
    expect(d.notes.join()).toMatch(/startup grace/)
    let st: GuardState = {...initialState(), kills: [1000, 2000]}
    const c = {...cfg, hysteresis: 1}
    st = apply(run(st, 3000, sample({mem: 93}), c), 3000)
    const d2 = run(st, 5000, sample({mem: 93}), c)
    expect(d2.steps).toEqual([])
    expect(d2.notes.join()).toMatch(/budget of 2 per hour is spent/)
    // An hour later the budget is back.
    expect(run(st, 3_700_000, sample({mem: 93}), {...c, staleMs: 1e9}).steps.map((s) => s.action)).toEqual(['term'])
  })

  it('renices CPU offenders but never signals them while preferNice holds or below kill-cpu', () => {
    const c = {...cfg, hysteresis: 1, limits: limits({preferNice: true})}
    let st = initialState()
    const acts: string[] = []
    for (let t = 0; t < 5; t++) {
      const d = run(st, t * 2000, sample({cpu: 99}), c)
      acts.push(...d.steps.map((s) => s.action))
      st = apply(d, t * 2000)
    }
    expect(acts).toEqual(['renice'])
    const c2 = {...c, limits: limits({preferNice: false, killCpuPercent: 90})}
    const d = run(st, 12_000, sample({cpu: 99}), c2)
    expect(d.steps.map((s) => s.action)).toEqual(['term'])
  })

  it('without prefer-nice, a CPU offender above kill-cpu gets SIGTERM at once (the protector\'s way), then SIGKILL after the grace', () => {
    const c = {...cfg, hysteresis: 1, limits: limits({preferNice: false, killCpuPercent: 90})}
    const d = run(initialState(), 0, sample({cpu: 99}), c)
    expect(d.steps.map((s) => `${s.action}:${s.target.pid}`)).toEqual(['term:60'])
    const st = commit(d.state, d.steps[0], 'sent', 0)
    expect(st.victims).toEqual([expect.objectContaining({pid: 60, stage: 'termed'})])
    expect(st.kills).toEqual([0])
    expect(run(st, 10_000, sample({cpu: 99}), c).steps.map((s) => s.action)).toEqual(['kill'])
    // Below kill-cpu: the renice rung.
    const slow = {...hog, cpuPercent: 85}
    expect(run(initialState(), 0, sample({cpu: 99}), c, [slow, job]).steps.map((s) => s.action)).toEqual(['renice'])
  })

  it('reports disk only, and says when every offender is protected', () => {
    const d = run(initialState(), 0, sample({disk: 99}), {...cfg, hysteresis: 1})
    expect(d.steps).toEqual([])
    expect(d.notes.join()).toMatch(/disk is reported only/)
    const d2 = run(initialState(), 0, sample({mem: 93}), {...cfg, hysteresis: 1}, [job])
    expect(d2.steps).toEqual([])
    expect(d2.notes.join()).toMatch(/no process may be acted on \(1 offender protected\)/)
  })

  it('drops a victim the gate refused (protected since) or that was reused, and gives the budget back', () => {
    let st = initialState()
    const c = {...cfg, hysteresis: 1}
    st = apply(run(st, 0, sample({mem: 93}), c), 0)
    const d = run(st, 2000, sample({mem: 93}), c)
    expect(d.steps[0].action).toBe('term')
    const after = commit(d.state, d.steps[0], 'refused', 2000)
    expect(after.victims).toEqual([])
    expect(after.kills).toEqual([])
  })

  it('restores a reniced victim that became protected, instead of escalating', () => {
    let st = initialState()
    const c = {...cfg, hysteresis: 1}
    st = apply(run(st, 0, sample({mem: 93}), c), 0)
    const nowProtected = {...hog, refusal: {kind: 'registered', reason: 'protected by run-dev-safe (job "late")'}}
    const d = run(st, 2000, sample({mem: 93}), c, [nowProtected, job])
    expect(d.steps.map((s) => s.action)).toEqual(['restore'])
    expect(d.steps[0].reason).toMatch(/protected now/)
  })

  it('never SIGKILLs a "victim" that is not an offender now (a forged or stale state file)', () => {
    const forged: GuardState = {...initialState(), over: {memory: 5, cpu: 0, disk: 0}, lastAt: 0, victims: [{pid: 61, startTime: job.startTime, comm: 'node', cmdline: [], resource: 'memory', stage: 'termed', at: 0, reason: 'x', nice0: null, oomScoreAdj0: null}]}
    const d = run(forged, 60_000, sample({mem: 93}), {...cfg, hysteresis: 1})
    expect(d.steps.map((s) => `${s.action}:${s.target.pid}`)).toEqual(['renice:60'])
    expect(d.notes.join()).toMatch(/pid 61 .*is no longer a memory offender that may be acted on: no SIGKILL/)
  })

  it('reads back a state file, and starts afresh from garbage', () => {
    const st = {...initialState(), over: {memory: 2, cpu: 0, disk: 0}, lastAt: 5}
    expect(parseState(JSON.parse(JSON.stringify(st)))).toEqual(st)
    expect(parseState({version: 1, over: {}, victims: [{pid: 'x'}], kills: []}).victims).toEqual([])
    expect(parseState('garbage')).toEqual(initialState())
  })
})

describe('cgroup limits (pure parts)', () => {
  it('finds each controller\'s hierarchy on a hybrid host, and the memory cgroup a process is charged to', async () => {
    const {parseCgroupMounts, parseProcCgroup, memcgOf, weightToShares, formatBytes} = await import('../../src/core/cgroup-limits.js')
    const m = parseCgroupMounts('cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\ncgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n')
    expect(m).toEqual({v2: '/sys/fs/cgroup/unified', v1: {cpu: '/sys/fs/cgroup/cpu', memory: '/sys/fs/cgroup/memory'}})
    const text = '9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n'
    expect(parseProcCgroup(text)).toMatchObject({memory: '/process_api/abc', cpu: '/x', cpuacct: '/x', '': '/'})
    expect(memcgOf(text, true)).toEqual({path: '/process_api/abc', hierarchy: 'v1'})
    expect(memcgOf(text, false)).toEqual({path: '/', hierarchy: 'v2'})
    expect([weightToShares(100), weightToShares(50), weightToShares(1), weightToShares(10000)]).toEqual([1024, 512, 10, 102400])
    expect(formatBytes(64 * 1024 * 1024)).toBe('64 MiB')
  })
})

describe('guard disk paths', () => {
  const info = [
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw',
    '40 27 0:50 / /mnt/nas rw - nfs4 nas:/export rw',
    '41 27 0:51 / /mnt/my\\040drive rw - 9p drvfs rw',
    '42 40 0:52 / /mnt/nas/cache rw - tmpfs tmpfs rw',
  ].join('\n')
  it('finds the mount holding a path (the longest mount point), without resolving it', () => {
    expect(mountTypeOf(info, '/')).toBe('ext4')
    expect(mountTypeOf(info, '/var/lib')).toBe('ext4')
    expect(mountTypeOf(info, '/mnt/nas')).toBe('nfs4')
    expect(mountTypeOf(info, '/mnt/nas/')).toBe('nfs4')
    expect(mountTypeOf(info, '/mnt/nas/a/b')).toBe('nfs4')
    expect(mountTypeOf(info, '/mnt/nas/cache/x')).toBe('tmpfs')
    expect(mountTypeOf(info, '/mnt/nasty')).toBe('ext4')
    expect(mountTypeOf(info, '/mnt/my drive/x')).toBe('9p')
    expect(LOCAL_FS_TYPES.has('ext4') && !LOCAL_FS_TYPES.has('nfs4') && !LOCAL_FS_TYPES.has('9p') && !LOCAL_FS_TYPES.has('fuse')).toBe(true)
  })
})

describe("the gate's undo of a renice", () => {
  it('gives back only what still has the value medic set, and never raises oom_score_adj', () => {
    const set = {nice: 19, oomScoreAdj: 1000}
    expect(undoable({nice: 0, oomScoreAdj: 0}, set, {nice: 19, oomScoreAdj: 1000})).toEqual({change: {nice: 0, oomScoreAdj: 0}, left: []})
    // Someone reniced it since, or run-dev-safe lowered its oom_score_adj: theirs stays.
    expect(undoable({nice: 0, oomScoreAdj: 0}, set, {nice: 5, oomScoreAdj: -500})).toEqual({change: {}, left: ['nice is 5, not the 19 medic set', 'oom_score_adj is -500, not the 1000 medic set']})
    expect(undoable({nice: 0, oomScoreAdj: 0}, {nice: 19}, {nice: 19, oomScoreAdj: 0})).toMatchObject({change: {nice: 0}})
    // A forged "before" cannot push a process toward the OOM killer.
    expect(undoable({oomScoreAdj: 1000}, {oomScoreAdj: 300}, {nice: 0, oomScoreAdj: 300}).change).toEqual({})
  })
})
