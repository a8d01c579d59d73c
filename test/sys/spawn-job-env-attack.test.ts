// attack-env: where a job started through one of medic's shims (cgroup shim, spare, systemd
// limits check) does not get what a plain start gets — or does not start at all. Each test
// states the plain start's result as the reference; contract §3.11 promises the same bytes.
// These tests FAIL on 4a3ae70 (they demonstrate the findings in /work/coord/attack-env.md).
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {envCarriers, limitsCheck, limitsCheckEnv} from '../../src/sys/cgroup.js'
import {jobSpawner, spawnJob} from '../../src/sys/spawn-job.js'

const dirs: string[] = []
const pids: number[] = []
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'medic-env-attack-'))
  dirs.push(d)
  return d
}

/** Starts `cp /proc/self/environ OUT` (after `prefix`) through spawnJob; its environment's bytes, or what went wrong. */
async function environOf(o: {env: NodeJS.ProcessEnv; limits?: string[]; prefix?: string[]}): Promise<string> {
  const out = join(tmp(), 'environ')
  let c
  try {
    c = spawnJob({argv: [...(o.prefix ?? []), '/bin/cp', '/proc/self/environ', out], env: o.env, cgroup: null, limits: o.limits, token: 'T', stdio: ['ignore', 'ignore', 'pipe']})
  } catch (e) {
    return `threw ${(e as NodeJS.ErrnoException).code}`
  }
  let err = ''
  c.stderr!.on('data', (d) => (err += d))
  const code = await new Promise<number | null>((r) => c.on('close', (code) => r(code)))
  return code === 0 ? readFileSync(out, 'latin1') : `exit ${code}: ${err}`
}

/** The same through a spare, held then released at once. */
function environOfSpare(env: NodeJS.ProcessEnv): Promise<string> {
  const out = join(tmp(), 'environ')
  return new Promise((resolve) => {
    const held = jobSpawner.hold({argv: ['/bin/cp', '/proc/self/environ', out], env, cgroup: null, output: false}, {
      spawned: (pid) => void pids.push(pid),
      failed: (e) => resolve(`failed ${e.code ?? e.message}`),
      exited: (code) => {
        pids.splice(0)
        resolve(code === 0 ? readFileSync(out, 'latin1') : `exit ${code}`)
      },
    })
    if (held.pid !== undefined) held.release()
  })
}

const many = (n: number): NodeJS.ProcessEnv => Object.fromEntries(Array.from({length: n}, (_, i) => [`V${i}`, 'x']))

describe('attack-env: the shims against a plain start', () => {
  // F1: ES = `-- ${E0} … ${E<n-1>}` is ONE exec string (an argument of env and a variable of
  // the shell): past MAX_ARG_STRLEN (128 KiB, ~14,200 variables) every shim start is E2BIG,
  // while the plain start (~110 KB of environment) is nowhere near ARG_MAX. The old dash shim
  // started it. CLI: `medic isolate --memory-max …` → "internal error: spawn E2BIG";
  // root `medic supervise --inherit-env` → "could not start: E2BIG … the command cannot start".
  it('F1: 15,000 variables start plainly, and through the cgroup shim and the spare', async () => {
    const env = many(15_000)
    const plain = await environOf({env})
    expect(plain.startsWith('V0=x\0')).toBe(true)
    expect(await environOf({env, limits: ['/dev/null']})).toBe(plain) // got: threw E2BIG
    expect(await environOfSpare(env)).toBe(plain) // got: failed E2BIG
  })

  // F1b: the systemd limits check was started with the job's environment PLUS its carriers
  // (~2× the bytes): a ~1.1 MiB environment started plainly but not through the check.
  // Fixed: systemd-run and the check get limitsCheckEnv(env) — the carriers (and medic's own
  // XDG_RUNTIME_DIR/DBUS_*/SYSTEMD_*), not the job's variables a second time — which is what
  // run-dev-safe starts it with now (this line tracked run-dev-safe's `{...env, ...envCarriers(env)}`).
  it('F1b: a 1.1 MiB environment starts plainly and through the systemd limits check', async () => {
    const env = Object.fromEntries(Array.from({length: 9}, (_, i) => [`B${i}`, 'v'.repeat(120_000)]))
    const plain = await environOf({env})
    const check = limitsCheck('/sys/fs/cgroup', {memoryMax: null, cpuWeight: null}, 'T')
    expect(await environOf({env: limitsCheckEnv(env), prefix: check})).toBe(plain) // got: threw E2BIG
  })

  // F2: node's spawn adds process.env.NODE_V8_COVERAGE to any env that does not own it; the
  // plain start passes it on, env -i drops it (the old dash shim passed it on too).
  it('F2: NODE_V8_COVERAGE of medic reaches a shim-started job as it reaches a plain one', async () => {
    const saved = process.env.NODE_V8_COVERAGE
    process.env.NODE_V8_COVERAGE = join(tmp(), 'cov')
    try {
      const plain = await environOf({env: {PATH: '/usr/bin:/bin'}})
      expect(plain).toContain('NODE_V8_COVERAGE=')
      expect(await environOf({env: {PATH: '/usr/bin:/bin'}, limits: ['/dev/null']})).toBe(plain) // got: no NODE_V8_COVERAGE
    } finally {
      if (saved === undefined) delete process.env.NODE_V8_COVERAGE
      else process.env.NODE_V8_COVERAGE = saved
    }
  })

  // F3: two entries with one name (a key holding '=': {'A=x': '1', A: '2'} is A=x=1 and A=2
  // to the kernel): the plain start keeps both, env(1)'s putenv kept the last. The report
  // allows refusing such keys instead: a shim start now refuses any name with '=' (node's
  // own kind of refusal, ERR_INVALID_ARG_VALUE, thrown before anything starts) — to the
  // kernel and every reader it is not the name given, and with a second entry of that name
  // there is no one environment env(1) could rebuild. Unreachable from the CLI.
  it('F3: an environment with two entries of one name keeps both, or a shim start refuses it', async () => {
    const env = {'A=x': '1', A: '2'}
    const plain = await environOf({env})
    expect(plain).toBe('A=x=1\0A=2\0')
    expect(await environOf({env, limits: ['/dev/null']})).toBe('threw ERR_INVALID_ARG_VALUE') // was: 'A=2\0'
    expect(await environOfSpare(env)).toBe('failed ERR_INVALID_ARG_VALUE')
  })

  // F4: one string at the kernel's per-string limit: the carrier E<i>=name=value is 3 bytes
  // longer (6 when the spare is itself carried by the cgroup shim).
  it('F4: a variable of 131,071 bytes (the longest the kernel takes) starts through the shim', async () => {
    const env = {K: 'v'.repeat(131_072 - 3)}
    const plain = await environOf({env})
    expect(plain.length).toBe(131_072)
    expect(await environOf({env, limits: ['/dev/null']})).toBe(plain) // got: threw E2BIG
  })

  // F5: the systemd limits check runs `cat` through the JOB's PATH (the shell has the job's
  // environment): a `cat` there decides whether the limits bind, and runs before the job.
  it('F5: the limits check reads the kernel files itself, whatever the job\'s PATH holds', async () => {
    const evil = join(tmp(), 'evil')
    mkdirSync(evil)
    writeFileSync(join(evil, 'cat'), `#!/bin/sh\necho 268435456\ntouch ${evil}/ran\n`)
    chmodSync(join(evil, 'cat'), 0o755)
    const env = {PATH: `${evil}:/usr/bin:/bin`}
    // A memory.max no cgroup here has at that value: the check must refuse (exit 125).
    const check = limitsCheck(tmp(), {memoryMax: 268435456, cpuWeight: null}, 'T')
    const got = await environOf({env: {...env, ...envCarriers(env)}, prefix: check})
    expect(got).toMatch(/^exit 125: medic-shim T: not started/) // got: the job ran (the fake cat said 268435456)
  })
})
