// A job started through one of medic's shims (the cgroup shim: supervise as root,
// run-dev-safe and isolate with limits; supervise's spare) gets exactly the environment a
// plain start gives it, byte for byte and in its order. The shims were /bin/sh scripts
// whose `exec` let dash rebuild the environment from its own variables: every name that is
// not a shell identifier (spring.profiles.active, my-var, 1abc, é) was dropped, OPTIND,
// PPID and IFS were reset, PWD added.
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {envCarriers, limitsCheck, limitsCheckEnv, makeCgroup, niceProgram, probeEnvExec, removeCgroup, shimRefusal, type Cgroup} from '../../src/sys/cgroup.js'
import {jobSpawner, spawnJob, type StartSpec} from '../../src/sys/spawn-job.js'

const dirs: string[] = []
const cgroups: Cgroup[] = []
const pids: number[] = []
afterEach(() => {
  // A held spare a failing test left: ended by its own pid.
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  for (const cg of cgroups.splice(0)) removeCgroup(cg)
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'medic-shim-env-'))
  dirs.push(d)
  return d
}

/** Names dash drops or rewrites, names env(1) could take for options or its own, and values of every kind. */
const ODD: NodeJS.ProcessEnv = {
  'spring.profiles.active': 'prod', 'my-var': 'x y', '1abc': '3', '5': 'five', 'é': 'ü', 'sp ace': 's',
  OPTIND: '7', IFS: 'x', PPID: '9', '-i': 'opt', '--': 'dd', 'd$': '${E0} $HOME \\n', ES: 'mine', E0: 'e0', MEDIC_SPARE_0: 'spare',
  empty: '', nl: 'a\nb\n', _: '/usr/bin/launcher', PATH: '/usr/bin:/bin', gone: undefined,
}

/** The environment the job was exec'd with, as the kernel holds it: cp copies its own /proc/self/environ. */
function environ(argv0: string, out: string): string[] {
  return [argv0, '/proc/self/environ', out]
}

/** Runs a spawnJob start (after `prefix`) to its exit; its environment's bytes. */
async function viaSpawnJob(o: Omit<Parameters<typeof spawnJob>[0], 'argv' | 'stdio'>, argv0 = '/bin/cp', prefix: string[] = []): Promise<string> {
  const out = join(tmp(), 'environ')
  const c = spawnJob({...o, argv: [...prefix, ...environ(argv0, out)], stdio: ['ignore', 'ignore', 'inherit']})
  const code = await new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
  expect(code).toBe(0)
  return readFileSync(out, 'utf8')
}

/** Runs a jobSpawner start, or a spare released once it announces itself (its pid), to its exit; the environment's bytes. */
function viaSpawner(how: 'start' | 'hold', o: Omit<StartSpec, 'argv' | 'output'>): Promise<string> {
  const out = join(tmp(), 'environ')
  return new Promise((resolve, reject) => {
    const on = {
      spawned: (pid: number) => void pids.push(pid),
      failed: (e: {message: string}) => reject(new Error(e.message)),
      exited: (code: number | null) => {
        pids.splice(0) // reaped: its pid is no longer ours to signal
        if (code === 0) resolve(readFileSync(out, 'utf8'))
        else reject(new Error(`exit ${code}`))
      },
    }
    const spec = {...o, argv: environ('/bin/cp', out), output: false}
    if (how === 'start') jobSpawner.start(spec, on)
    else {
      const held = jobSpawner.hold(spec, on)
      if (held.pid === undefined) return
      held.release()
    }
  })
}

const entries = (env: NodeJS.ProcessEnv): string => Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}\0`).join('')

/** As root, a real cgroup of medic's for this test (removed after it); else the test is skipped, saying why. */
function rootCgroup(ctx: {skip: () => void}): Cgroup | null {
  if (process.getuid?.() !== 0) {
    console.log('skipped: needs root (medic makes a cgroup, and so starts through the shim, as root or in a delegated subtree)')
    ctx.skip()
    return null
  }
  const stat = readFileSync('/proc/self/stat', 'latin1')
  const made = makeCgroup('envtest', '', {pid: process.pid, startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}, () => true)
  if (!made.ok) {
    console.log(`skipped: no cgroup: ${made.reason}`)
    ctx.skip()
    return null
  }
  cgroups.push(made.cgroup)
  return made.cgroup
}

describe('the shims give the job the environment of a plain start, byte for byte', () => {
  it('a plain start is the reference: every name, in spawn\'s order', async () => {
    const plain = await viaSpawnJob({env: ODD, cgroup: null})
    // Object order: integer-like names first, as node's spawn hands them to the kernel.
    expect(plain).toBe(entries(ODD))
  })

  it('through the cgroup shim (a limit cgroup: run-dev-safe --memory-max, isolate): the same bytes', async () => {
    const plain = await viaSpawnJob({env: ODD, cgroup: null})
    // /dev/null takes the shim's pid like a cgroup.procs file does: the shim runs as any user.
    const shim = await viaSpawnJob({env: ODD, cgroup: null, limits: ['/dev/null'], token: 'T'})
    expect(shim).toBe(plain) // observed before: no spring.profiles.active, my-var, 1abc, 5, é, …; OPTIND=1, PPID=<shell's>, IFS reset, PWD added
  })

  it('an empty environment stays empty; a job without PWD gets none', async () => {
    expect(await viaSpawnJob({env: {}, cgroup: null, limits: ['/dev/null']})).toBe('')
    expect(await viaSpawnJob({env: {PATH: '/usr/bin:/bin'}, cgroup: null, limits: ['/dev/null']})).toBe('PATH=/usr/bin:/bin\0')
  })

  it('a program whose name has a = is run, not taken for an assignment', async () => {
    const bin = join(tmp(), 'bin')
    mkdirSync(bin)
    symlinkSync('/bin/cp', join(bin, 'k=v'))
    const env = {...ODD, PATH: `${bin}:/usr/bin:/bin`}
    const plain = await viaSpawnJob({env, cgroup: null}, 'k=v')
    expect(plain).toBe(entries(env))
    expect(await viaSpawnJob({env, cgroup: null, limits: ['/dev/null']}, 'k=v')).toBe(plain)
    expect(await viaSpawnJob({env, cgroup: null, limits: ['/dev/null']}, join(bin, 'k=v'))).toBe(plain)
  })

  // run-dev-safe/isolate where systemd is PID 1: `systemd-run --scope … -- <limitsCheck> nice … CMD`
  // (systemd-run execs with its own environment: limitsCheckEnv, the job's carriers). No limit
  // asked here: the check's exec is what is tested, as any user, without systemd.
  it('through the systemd limits check: the same bytes; without the carriers it starts nothing', async () => {
    const plain = await viaSpawnJob({env: ODD, cgroup: null})
    const check = limitsCheck('/sys/fs/cgroup', {memoryMax: null, cpuWeight: null}, 'T0k')
    expect(await viaSpawnJob({env: limitsCheckEnv(ODD), cgroup: null}, '/bin/cp', check)).toBe(plain)
    const c = spawnJob({argv: [...check, '/bin/echo', 'ran'], env: {PATH: '/usr/bin:/bin', 'spring.profiles.active': 'prod'}, cgroup: null, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (err += d))
    expect(await new Promise((r) => c.on('close', (code) => r(code)))).toBe(125)
    expect(out).toBe('')
    expect(shimRefusal(err, 'T0k')).toBe('its environment did not reach the scope')
  })

  it('through a spare (held in a shell, then released): the same bytes', async () => {
    const plain = await viaSpawner('start', {env: ODD, cgroup: null})
    expect(await viaSpawner('hold', {env: ODD, cgroup: null})).toBe(plain)
  })

  // Where env(1) has no -S (busybox), medic makes no cgroup and sets no limits (cgroup.ts,
  // envExecUnavailable): a job starts plainly, never with an environment it was not given.
  it('an env(1) that cannot expand -S \'${VAR}\' is found out before any job is started through it', () => {
    expect(probeEnvExec('/usr/bin/env')).toBeNull() // this host's: GNU coreutils
    const fake = join(tmp(), 'env')
    writeFileSync(fake, '#!/bin/sh\necho "env: unrecognized option: S" >&2; exit 1\n')
    chmodSync(fake, 0o755)
    expect(probeEnvExec(fake)).toMatch(/cannot start a job with its exact environment \(it needs -S with \$\{VAR\}/)
    expect(probeEnvExec(join(tmp(), 'missing'))).toMatch(/ENOENT/)
  })

  // attack-env F8: an env(1) that expands -S but changes a value (a backslash, here) is one
  // that cannot carry the environment either: the probe's values are the awkward kinds.
  it('an env(1) that expands -S but changes a value is found out too', () => {
    const mangler = join(tmp(), 'env')
    writeFileSync(mangler, '#!/bin/sh\n/usr/bin/env "$@" | tr "\\\\" /\n')
    chmodSync(mangler, 0o755)
    expect(probeEnvExec(mangler)).toMatch(/cannot start a job with its exact environment/)
  })

  // attack-env F7: a program named with = is run through nice(1), which is probed with env(1):
  // without a nice that runs, medic makes no cgroup and sets no limits, as without env -S.
  it('the nice a program named with = goes through is probed: missing or not executable, the shims are off', () => {
    expect(niceProgram()).toMatch(/^\/.*\/nice$/)
    expect(probeEnvExec('/usr/bin/env', null)).toMatch(/^no nice\(1\)/)
    const unrunnable = join(tmp(), 'nice')
    writeFileSync(unrunnable, '')
    expect(probeEnvExec('/usr/bin/env', unrunnable)).toMatch(/cannot start a job with its exact environment \(.*nice/)
    expect(probeEnvExec('/usr/bin/env', join(tmp(), 'missing-nice'))).toMatch(/cannot start a job with its exact environment/)
  })

  // attack-env F1, F4: every carrier and ES string stays under the kernel's 128 KiB a string;
  // ES (the only one that is an argument) holds references, never a value.
  it('carriers: each under MAX_ARG_STRLEN, pieces never inside a character, ES chained, no value in ES', () => {
    const big: NodeJS.ProcessEnv = Object.fromEntries(Array.from({length: 30_000}, (_, i) => [`V${i}`, 'x']))
    big.K4 = '𝄞'.repeat(32_767) // 131,068 bytes of 4-byte characters
    big.K3 = '€'.repeat(43_689)
    const c = envCarriers(big)
    for (const [k, v] of Object.entries(c)) expect(Buffer.byteLength(`${k}=${v}`) + 1).toBeLessThanOrEqual(131_072)
    const chain = Object.keys(c).filter((k) => /^ES\d*$/.test(k))
    expect(chain.length).toBeGreaterThan(1)
    for (const k of chain) expect(c[k]).toMatch(/^(-S \$\{ES\d+\}|--)( (\$\{E\d+\})+)*$/)
    expect(c.ES.startsWith('-S ${ES1} ')).toBe(true)
    expect(c[chain.at(-1)!].startsWith('-- ${E0} ')).toBe(true)
    for (const [k, v] of Object.entries(c)) if (!k.startsWith('ES')) expect(v).not.toContain('\uFFFD')
  })

  // attack-env F1: past ~14,200 variables ES was one exec string over 128 KiB: every shim start
  // was E2BIG where the plain start worked. 25,000 variables and values at the per-string limit
  // (4-byte and 3-byte characters, cut into pieces only between characters) now start the same.
  it('25,000 variables (3 ES strings) and values at the kernel\'s per-string limit: the same bytes through the shim, the spare and the systemd check', async () => {
    const env: NodeJS.ProcessEnv = {...ODD, ...Object.fromEntries(Array.from({length: 25_000}, (_, i) => [`V${i}`, `v${i}`])), K4: '𝄞'.repeat(32_766) + 'abc', K3: '€'.repeat(43_688) + 'abcd'}
    const plain = await viaSpawnJob({env, cgroup: null})
    expect(plain).toBe(entries(env))
    expect(await viaSpawnJob({env, cgroup: null, limits: ['/dev/null'], token: 'T'})).toBe(plain)
    expect(await viaSpawner('hold', {env, cgroup: null})).toBe(plain)
    expect(await viaSpawnJob({env: limitsCheckEnv(env), cgroup: null}, '/bin/cp', limitsCheck('/sys/fs/cgroup', {memoryMax: null, cpuWeight: null}, 'T0k'))).toBe(plain)
  })

  // attack-env F2: node's spawn adds medic's NODE_V8_COVERAGE to an env that does not own it;
  // the shims' carriers are built from the same entries, so the job gets it where node puts it.
  it('NODE_V8_COVERAGE of medic reaches the job as node\'s spawn adds it, and one the env owns is kept', async () => {
    const saved = process.env.NODE_V8_COVERAGE
    process.env.NODE_V8_COVERAGE = join(tmp(), 'cov')
    try {
      const plain = await viaSpawnJob({env: {...ODD}, cgroup: null})
      expect(plain.endsWith(`NODE_V8_COVERAGE=${process.env.NODE_V8_COVERAGE}\0`)).toBe(true)
      expect(await viaSpawnJob({env: {...ODD}, cgroup: null, limits: ['/dev/null']})).toBe(plain)
      expect(await viaSpawner('hold', {env: {...ODD}, cgroup: null})).toBe(plain)
      const owned = {...ODD, NODE_V8_COVERAGE: 'mine', A: '1'}
      const plainOwned = await viaSpawnJob({env: {...owned}, cgroup: null})
      expect(plainOwned).toBe(entries(owned))
      expect(await viaSpawnJob({env: {...owned}, cgroup: null, limits: ['/dev/null']})).toBe(plainOwned)
    } finally {
      if (saved === undefined) delete process.env.NODE_V8_COVERAGE
      else process.env.NODE_V8_COVERAGE = saved
    }
  })

  // attack-env F5: the check reads the kernel files with the shell's read: a `cat` first in the
  // PATH that reached it decides nothing, and `p` starts empty whatever the environment holds.
  it('the systemd limits check runs no program through a PATH: a fake cat is never run', async () => {
    const evil = join(tmp(), 'evil')
    mkdirSync(evil)
    writeFileSync(join(evil, 'cat'), `#!/bin/sh\necho 268435456\ntouch ${evil}/ran\n`)
    chmodSync(join(evil, 'cat'), 0o755)
    const v2 = tmp()
    const own = /^0::(\S*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? ''
    mkdirSync(join(v2, own), {recursive: true})
    writeFileSync(join(v2, own, 'memory.max'), '268435456\n')
    const env = {PATH: `${evil}:/usr/bin:/bin`, p: '/nowhere'}
    const check = limitsCheck(v2, {memoryMax: 268435456, cpuWeight: null}, 'T0k')
    // Through the check's shell as systemd-run starts it, and with the job's variables too (as 4a3ae70 did).
    expect(await viaSpawnJob({env: limitsCheckEnv(env), cgroup: null}, '/bin/cp', check)).toBe(entries(env))
    expect(await viaSpawnJob({env: {...env, ...envCarriers(env)}, cgroup: null}, '/bin/cp', check)).toBe(entries(env))
    const c = spawnJob({argv: [...limitsCheck(v2, {memoryMax: 1024, cpuWeight: null}, 'T0k'), '/bin/echo', 'ran'], env: {...env, ...envCarriers(env)}, cgroup: null, stdio: ['ignore', 'pipe', 'pipe']})
    let err = ''
    c.stderr!.on('data', (d) => (err += d))
    expect(await new Promise((r) => c.on('close', (code) => r(code)))).toBe(125)
    expect(shimRefusal(err, 'T0k')).toMatch(/^systemd did not set memory\.max to 1024 in /)
    expect(readdirSync(evil)).toEqual(['cat'])
  })

  // attack-env F3: a name with = is not carried (the kernel would read it as another name).
  it('a name with = is refused by a shim start before anything runs', () => {
    expect(() => envCarriers({'A=x': '1', A: '2'})).toThrow(/holds a '='/)
    expect(() => spawnJob({argv: ['/bin/true'], env: {'A=x': '1'}, cgroup: null, limits: ['/dev/null'], stdio: 'ignore'})).toThrow(expect.objectContaining({code: 'ERR_INVALID_ARG_VALUE'}))
  })

  it('as root, in a real cgroup: a first start and a spare released in it get the plain start\'s bytes', async (ctx) => {
    const cgroup = rootCgroup(ctx)
    if (!cgroup) return
    const plain = await viaSpawner('start', {env: ODD, cgroup: null})
    expect(await viaSpawner('start', {env: ODD, cgroup})).toBe(plain) // observed before: the names dash drops missing
    expect(await viaSpawner('hold', {env: ODD, cgroup})).toBe(plain)
  })

  // attack-env F1, F4 as root: a spare in a cgroup is carried twice (the cgroup shim carries the
  // hold shell's carriers), the first start once: 16,000 variables and one at the per-string limit.
  it('as root, in a real cgroup: 16,000 variables and one of 131,071 bytes, first start and spare', async (ctx) => {
    const cgroup = rootCgroup(ctx)
    if (!cgroup) return
    const env: NodeJS.ProcessEnv = {...ODD, ...Object.fromEntries(Array.from({length: 16_000}, (_, i) => [`V${i}`, 'x'])), K: 'v'.repeat(131_069)}
    const plain = await viaSpawner('start', {env, cgroup: null})
    expect(plain).toBe(entries(env))
    expect(await viaSpawner('start', {env, cgroup})).toBe(plain) // was: E2BIG
    expect(await viaSpawner('hold', {env, cgroup})).toBe(plain)
  })
})
