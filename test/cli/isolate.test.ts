// Isolation that binds the kernel: a job in cgroups of its own (v1 controllers on this
// hybrid host, v2 where its controllers exist), OOM-killed alone when over its budget.
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {memoryCgroupOf} from '../../src/sys/cgroup.js'
import {registryEnv, startHog, skipWhen} from '../helpers/guard.js'
import {alive, BIN, Janitor, medic} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

// Real jobs allocating hundreds of MB on a shared, loaded host: safety nets, not timing assertions.
vi.setConfig({testTimeout: 120_000, hookTimeout: 60_000})

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

/** Allocates and touches N MiB, then holds it for a moment. */
const ALLOC = `const n = Number(process.argv[1]); const held = []; for (let i = 0; i < n; i++) held.push(Buffer.alloc(1 << 20, i & 255)); console.log('allocated', n); setTimeout(() => held.length, 200)`

/** Where this host can limit memory for a job: why not, or null. */
function cannotLimit(): string | null {
  if (process.getuid?.() !== 0) return 'making cgroups needs root here'
  const own = memoryCgroupOf('self')
  if (!own) return 'no memory cgroup hierarchy'
  return null
}

function mine(): string[] {
  const own = memoryCgroupOf('self')!
  const v1 = `/sys/fs/cgroup/memory${own.path}`
  return existsSync(v1) ? readdirSync(v1).filter((n) => n.startsWith('medic-isolate-') || n.startsWith('medic-protect-')) : []
}

describe('medic isolate / run-dev-safe --memory-max', () => {
  it('a job allocating 200 MB with --memory-max 64M is OOM-killed alone, and the end says so', async (ctx) => {
    if (skipWhen(ctx, cannotLimit())) return
    const before = new Set(mine())
    // A bystander outside the job's cgroup, holding more than the job's budget, must not be touched.
    const bystander = await startHog(j, ['--mb', '100'])
    const dir = j.tmp()
    const r = await medic(['isolate', '--state-dir', dir, '--memory-max', '64M', '--json-report', join(dir, 'r.json'), '--', process.execPath, '-e', ALLOC, '200'])
    expect(r.code).toBe(137)
    expect(r.stderr).toMatch(/limits: cgroup v[12]: .*64 MiB/)
    expect(r.stderr).toMatch(/DEV SCRIPT KILLED BY SIGKILL \(exit code: 137\) — sent by the kernel OOM killer in its own cgroup/)
    expect(r.stderr).toMatch(/cause: the kernel OOM killer in its own cgroup \(\S+medic-isolate-\d+-\d+, memory limit 64 MiB\)/)
    expect(r.stderr).toMatch(/^DEVRUN_ALERT: /m)
    expect(r.stdout).not.toMatch(/allocated 200/)
    expect(alive(bystander.pid)).toBe(true)
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))
    expect(report.trace.causes[0]).toMatch(/^the kernel OOM killer in its own cgroup/)
    // Its cgroups are gone with it.
    expect(mine().filter((n) => !before.has(n))).toEqual([])
  })

  it('the same under run-dev-safe: protected from medic, still bound by the kernel', async (ctx) => {
    if (skipWhen(ctx, cannotLimit())) return
    const dir = j.tmp()
    const r = await medic(['run-dev-safe', '--state-dir', dir, '--memory-max', '64M', '--', process.execPath, '-e', ALLOC, '200'], {env: registryEnv(j)})
    expect(r.code).toBe(137)
    expect(r.stderr).toMatch(/^ +Mode: PROTECTED/m) // no emoji: stderr is not a UTF-8 terminal here
    expect(r.stderr).toMatch(/KILLED BY SIGKILL \(exit code: 137\) — sent by the kernel OOM killer in its own cgroup/)
  })

  it('a job under its budget runs to the end; --cpu-weight reaches the cpu controller; config defaults apply', async (ctx) => {
    if (skipWhen(ctx, cannotLimit())) return
    const dir = j.tmp()
    const config = join(dir, 'medic.isolation.json')
    writeFileSync(config, JSON.stringify({runDevSafe: {nice: 7, memoryMax: 300 * 1024 * 1024, cpuWeight: 50}}))
    // The job prints its own nice, cgroups and their limits.
    const probe = `const fs=require('fs');const cg=fs.readFileSync('/proc/self/cgroup','utf8');const st=fs.readFileSync('/proc/self/stat','utf8');
const v1=(c)=>{const m=new RegExp('^\\\\d+:'+c+':(.*)$','m').exec(cg);return m?'/sys/fs/cgroup/'+c+m[1]:null};
const v2=/^0::(.*)$/m.exec(cg)[1];const rd=(p)=>{try{return fs.readFileSync(p,'utf8').trim()}catch{return null}};
console.log(JSON.stringify({nice:Number(st.slice(st.lastIndexOf(')')+2).split(' ')[16]),mem:rd(v1('memory')+'/memory.limit_in_bytes')??rd('/sys/fs/cgroup'+v2+'/memory.max'),shares:rd(v1('cpu')+'/cpu.shares'),weight:rd('/sys/fs/cgroup'+v2+'/cpu.weight')}))`
    const r = await medic(['isolate', '--state-dir', dir, '--config', config, '--', process.execPath, '-e', probe])
    expect(r.code).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(o.nice).toBe(7)
    expect(o.mem).toBe(String(300 * 1024 * 1024))
    expect(o.shares === '512' || o.weight === '50').toBe(true)
    expect(r.stderr).toMatch(/^DEVRUN_OK: /m)
  })

  // The limits shim was a /bin/sh (dash) script whose exec dropped every variable whose name
  // is not a shell identifier, and reset OPTIND: the job got less than medic's environment.
  it('the job gets medic\'s environment through the limits shim, names of any kind included', async (ctx) => {
    if (skipWhen(ctx, cannotLimit())) return
    const dir = j.tmp()
    const odd = {'spring.profiles.active': 'prod', 'my-var': 'x y', '1abc': '3', 'é': 'ü', OPTIND: '7', 'nl.value': 'a\nb', 'empty.value': ''}
    const r = await medic(['isolate', '--state-dir', dir, '--memory-max', '300M', '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'], {env: odd})
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/limits: cgroup v[12]: /)
    const env = JSON.parse(r.stdout)
    expect(Object.fromEntries(Object.keys(odd).map((k) => [k, env[k]]))).toEqual(odd) // observed before: only OPTIND, and as 1
  })

  // attack-env F1: with ~14,200 variables the shim's one ES string passed 128 KiB and isolate said
  // "internal error: spawn E2BIG" for a job a plain start runs. F5: run-dev-safe's nice was
  // found through the job's PATH; now it is the one medic finds (/usr/bin first).
  it('a job with 16,000 more variables starts through the limits shim; a nice first in PATH is not run', async (ctx) => {
    if (skipWhen(ctx, cannotLimit())) return
    const dir = j.tmp()
    const evil = join(dir, 'evil')
    mkdirSync(evil)
    writeFileSync(join(evil, 'nice'), `#!/bin/sh\ntouch ${evil}/ran\nshift 3\nexec "$@"\n`)
    chmodSync(join(evil, 'nice'), 0o755)
    const many = Object.fromEntries(Array.from({length: 16_000}, (_, i) => [`V${i}`, 'x']))
    const count = 'process.stdout.write(String(Object.keys(process.env).filter((k) => /^V\\d+$/.test(k)).length))'
    const r = await medic(['isolate', '--state-dir', dir, '--memory-max', '300M', '--', process.execPath, '-e', count], {env: {...many, PATH: `${evil}:${process.env.PATH}`}})
    expect(r.stderr).toMatch(/limits: cgroup v[12]: /)
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('16000')
    expect(existsSync(join(evil, 'ran'))).toBe(false)
  })

  it('a job whose limits cannot be set is not started (not root: no cgroup of its own)', async (ctx) => {
    if (skipWhen(ctx, users.cannot())) return
    const u = users.create()
    const dir = j.tmp()
    chmodSync(dir, 0o777)
    const marker = join(dir, 'ran')
    const r = spawnSync(process.execPath, [BIN, 'isolate', '--state-dir', join(dir, 'state'), '--memory-max', '64M', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`], {uid: u.uid, gid: u.gid, encoding: 'utf8', env: {PATH: process.env.PATH, HOME: u.home, NO_COLOR: '1'}, cwd: dir})
    expect(r.status).toBe(3)
    expect(r.stderr).toMatch(/NOT STARTED: cannot give the job its own cgroup limits/)
    expect(r.stderr).toMatch(/^DEVRUN_UNKNOWN: /m)
    expect(existsSync(marker)).toBe(false)
  })

  it('bad limits are usage errors', async () => {
    for (const args of [['--memory-max', '1k'], ['--memory-max', 'lots'], ['--cpu-weight', '0'], ['--cpu-weight', '10001']]) {
      const r = await medic(['isolate', ...args, '--', 'true'])
      expect(r.code).toBe(3)
      expect(r.stdout).toMatch(/^DEVRUN_UNKNOWN: /)
    }
  })
})
