import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, Janitor, medic, ROOT, SERVICE, startProtectedService, waitReady} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())
const JOB = join(ROOT, 'test/fixtures/proc/job.mjs')
const PROTECTOR = join(ROOT, 'test/fixtures/proc/protector.mjs')

describe('medic run-dev-safe', () => {
  it('passes arguments exactly, stdout is the job\'s, and exits with the job\'s status', async () => {
    const dir = j.tmp()
    const args = ['a b', '$(touch ' + join(dir, 'pwned') + ')', '*', '', "it's"]
    const r = await medic(['run-dev-safe', '--state-dir', dir, '--no-trace', '--', process.execPath, JOB, '--args', ...args, '--exit', '7'])
    expect(r.code).toBe(7)
    expect(JSON.parse(r.stdout)).toEqual([...args, '--exit', '7'])
    expect(existsSync(join(dir, 'pwned'))).toBe(false)
    expect(r.stderr).toMatch(/^DEVRUN_ALERT: \S+: DEV SCRIPT FAILED \(exit code: 7\)/m)
    expect(r.stdout).not.toMatch(/DEVRUN_/)
  })

  it('runs at nice 10 with the seed\'s environment, the protection mark, and the wrapper and the job registered while it runs', async () => {
    const dir = j.tmp()
    const reg = join(dir, 'registry') // the host registry, here for this test alone (root makes it)
    const probe = 'const fs=require("fs"); const st=fs.readFileSync("/proc/self/stat","utf8"); console.log(JSON.stringify({nice: Number(st.slice(st.lastIndexOf(")")+2).split(" ")[16]), mode: process.env.OMNIMIND_DEV_SCRIPT_MODE, wrapper: process.env.OMNIMIND_SCRIPT_PID, mark: process.env.MEDIC_PROTECTED, reg: fs.readdirSync(process.argv[1]).filter((n) => n.endsWith(".json")).sort()}))'
    const r = await medic(['run-dev-safe', '--state-dir', dir, '--', process.execPath, '-e', probe, reg], {env: {MEDIC_PROTECTED_DIR: reg}})
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({nice: 10, mode: 'true'})
    expect(Number(out.wrapper)).toBeGreaterThan(1)
    expect(out.mark).toMatch(new RegExp(`^${out.wrapper}-\\d+$`))
    expect(out.reg).toHaveLength(2) // the wrapper (registered before the job started) and the job
    expect(out.reg).toContain(`${out.mark}.json`)
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/^DEVRUN_OK: /m)
    expect(r.stderr).toContain('DEV SCRIPT COMPLETED (exit code: 0)')
    // not a terminal: the seed's emoji and box rule stay out of pipes and logs
    expect(r.stderr).not.toMatch(/\p{Extended_Pictographic}|═/u)
    for (const n of out.reg) expect(existsSync(join(reg, n))).toBe(false) // unregistered at the end
  })

  it('forwards SIGTERM to the job and exits with its status', async () => {
    const dir = j.tmp()
    const termFile = join(dir, 'term')
    const pidFile = join(dir, 'pid')
    const c = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', dir, '--no-trace', '--', process.execPath, JOB, '--term-file', termFile, '--pid-file', pidFile], {stdio: 'ignore', detached: true})
    j.child(c)
    for (let i = 0; i < 500 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 5))
    const exit = new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
    c.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(readFileSync(termFile, 'utf8')).toBe('got SIGTERM')
  })

  it('keeps the log when the job is SIGKILLed, and names who did it', async () => {
    const dir = j.tmp()
    const pidFile = join(dir, 'pid')
    const p = spawn(process.execPath, [PROTECTOR, '--pid-file', pidFile, '--kill-only'], {stdio: 'ignore', detached: true})
    j.child(p)
    const log = join(dir, 'job.log')
    const r = await medic(['run-dev-safe', '--state-dir', dir, '--log-file', log, '--json-report', join(dir, 'report.json'), '--', process.execPath, JOB, '--pid-file', pidFile])
    expect(r.code).toBe(137)
    const text = readFileSync(log, 'utf8')
    expect(text).toMatch(/DEV SCRIPT KILLED BY SIGKILL \(exit code: 137\)/)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report.exitCode).toBe(137)
    if (process.getuid?.() === 0) {
      expect(r.stderr).toMatch(new RegExp(`KILLED BY SIGKILL \\(exit code: 137\\) — sent by pid ${p.pid} \\(node`))
      expect(report.trace.fatalSender.pid).toBe(p.pid)
    }
  })

  it('is never signalled by medic cleanup while it holds a port', async () => {
    const dir = j.tmp()
    const svc = await startProtectedService(j, dir)
    const r = await medic(['cleanup', '--port', String(svc.port), '--state-dir', dir])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toMatch(/protected by run-dev-safe \(job "node"\)/)
    expect(alive(svc.pid)).toBe(true)
    const status = await medic(['protect', 'list', '--state-dir', dir, '--json'])
    expect(JSON.parse(status.stdout).processes.map((p: {pid: number}) => p.pid)).toContain(svc.pid)
  })
})

describe('medic protect', () => {
  it('adds and removes processes by identity, and prunes dead entries on list', async () => {
    const dir = j.tmp()
    // The registry is one for the host: other suites running at the same time register their jobs
    // there too. This test counts entries, so it gets a registry of its own.
    const env = {MEDIC_PROTECTED_DIR: join(dir, 'registry'), MEDIC_PROTECTED_SHM: j.tmp()}
    const job = spawn(process.execPath, [JOB], {stdio: 'ignore', detached: true})
    j.child(job)
    expectContract(await medic(['protect', 'add', '--pid', String(job.pid), '--name', 'train', '--state-dir', dir], {env}), 'PROTECT_OK')
    let list = JSON.parse((await medic(['protect', 'list', '--state-dir', dir, '--json'], {env})).stdout)
    expect(list.processes.map((p: {name: string}) => p.name)).toEqual(['train'])
    process.kill(job.pid!, 'SIGKILL')
    await new Promise((r) => job.once('exit', r))
    list = JSON.parse((await medic(['protect', 'list', '--state-dir', dir, '--json'], {env})).stdout)
    expect(list).toMatchObject({processes: [], pruned: 1})
    expectContract(await medic(['protect', 'add', '--pid', '999999999', '--state-dir', dir], {env}), 'PROTECT_UNKNOWN')
  })

  it('edits --protect patterns in the YAML config named by --config, keeping its comments, and cleanup honours them', async () => {
    const cwd = j.tmp()
    const cfg = join(cwd, 'medic.config.yaml')
    writeFileSync(cfg, '# my services\nservices:\n  gateway:\n    port: 18789 # the seed port\n')
    expectContract(await medic(['protect', 'add', '--pattern', 'service\\.mjs', '--config', cfg]), 'PROTECT_OK')
    const text = readFileSync(cfg, 'utf8')
    expect(text).toContain('# my services')
    expect(text).toContain('# the seed port')
    expect(text).toMatch(/protect:\n\s+- service\\\.mjs/)
    const ready = join(cwd, 'ready.json')
    const s = spawn(process.execPath, [SERVICE, '--ready', ready], {stdio: 'ignore', detached: true})
    j.child(s)
    const svc = await waitReady(ready, 'service')
    const r = await medic(['cleanup', '--port', String(svc.port), '--state-dir', join(cwd, 'st'), '--config', cfg])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toContain('matches --protect service\\.mjs')
    expectContract(await medic(['protect', 'remove', '--pattern', 'service\\.mjs', '--config', cfg]), 'PROTECT_OK')
    expect(readFileSync(cfg, 'utf8')).not.toContain('service\\.mjs')
  })
})
