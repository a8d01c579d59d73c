// A job started through one of medic's shims (the cgroup shim: supervise as root,
// run-dev-safe and isolate with limits; supervise's spare) gets exactly the environment a
// plain start gives it, byte for byte and in its order. The shims were /bin/sh scripts
// whose `exec` let dash rebuild the environment from its own variables: every name that is
// not a shell identifier (spring.profiles.active, my-var, 1abc, é) was dropped, OPTIND,
// PPID and IFS were reset, PWD added.
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {envCarriers, limitsCheck, makeCgroup, probeEnvExec, removeCgroup, shimRefusal, type Cgroup} from '../../src/sys/cgroup.js'
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
  // (systemd-run execs with its own environment, the job's plus its carriers). No limit asked
  // here: the check's exec is what is tested, as any user, without systemd.
  it('through the systemd limits check: the same bytes; without the carriers it starts nothing', async () => {
    const plain = await viaSpawnJob({env: ODD, cgroup: null})
    const check = limitsCheck('/sys/fs/cgroup', {memoryMax: null, cpuWeight: null}, 'T0k')
    expect(await viaSpawnJob({env: {...ODD, ...envCarriers(ODD)}, cgroup: null}, '/bin/cp', check)).toBe(plain)
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

  it('as root, in a real cgroup: a first start and a spare released in it get the plain start\'s bytes', async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: needs root (medic makes a cgroup, and so starts through the shim, as root or in a delegated subtree)')
      return ctx.skip()
    }
    const stat = readFileSync('/proc/self/stat', 'latin1')
    const made = makeCgroup('envtest', '', {pid: process.pid, startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}, () => true)
    if (!made.ok) {
      console.log(`skipped: no cgroup: ${made.reason}`)
      return ctx.skip()
    }
    cgroups.push(made.cgroup)
    const plain = await viaSpawner('start', {env: ODD, cgroup: null})
    expect(await viaSpawner('start', {env: ODD, cgroup: made.cgroup})).toBe(plain) // observed before: the names dash drops missing
    expect(await viaSpawner('hold', {env: ODD, cgroup: made.cgroup})).toBe(plain)
  })
})
