// Wrong kills of a protected job's descendants that left its process tree (issue 9,
// defect 3): a daemon double-forked into its own session and reparented to pid 1 stays
// protected — by the MEDIC_PROTECTED mark it inherits, and (root) by the job's cgroup
// even when it clears its environment.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {cgroup2Mount} from '../../src/sys/cgroup.js'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, BIN, expectContract, Janitor, medic, SERVICE, until, waitReady} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

interface Daemonised {
  wrapper: ChildProcess
  jobPid: number
  daemon: {pid: number; port: number}
  env: NodeJS.ProcessEnv
  stop: () => Promise<number | null>
}

/**
 * `medic run-dev-safe -- sh -c '(setsid [env -i] LISTEN &); exec sleep'`: the job's
 * daemon leaves its tree (the subshell exits: reparented) and its session (setsid).
 */
async function protectedJobWithDaemon(clearEnv: boolean): Promise<Daemonised> {
  const dir = j.tmp()
  const env = {...process.env, MEDIC_PROTECTED_DIR: join(dir, 'registry')}
  const ready = join(dir, 'ready.json')
  const jobPid = join(dir, 'job.pid')
  const daemon = [...(clearEnv ? ['env', '-i'] : []), process.execPath, SERVICE, '--ready', ready]
  // A constant script; the daemon's argv comes in as positional parameters.
  const script = 'echo $$ > "$1"; shift; (setsid "$@" > /dev/null 2>&1 &); exec sleep 100000'
  const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', join(dir, 'state'), '--no-trace', '--', 'sh', '-c', script, 'job', jobPid, ...daemon], {stdio: 'ignore', detached: true, env})
  j.child(wrapper)
  j.pidFile(jobPid)
  const d = await waitReady(ready, 'the daemon')
  j.track(d.pid)
  const job = Number(await until('the job pid', () => existsSync(jobPid) && readFileSync(jobPid, 'utf8').trim()))
  const exited = new Promise<number | null>((r) => wrapper.once('exit', (c) => r(c)))
  return {
    wrapper, jobPid: job, daemon: {pid: d.pid, port: d.port}, env,
    // The daemon first (a leftover would keep the job's cgroup), then the wrapper, gracefully: it removes its cgroup.
    stop: async () => {
      process.kill(d.pid, 'SIGKILL')
      await until('the daemon gone', () => !alive(d.pid))
      wrapper.kill('SIGTERM')
      return exited
    },
  }
}

describe('a protected job\'s double-forked daemon stays protected', () => {
  it('reparented and in its own session, it carries the MEDIC_PROTECTED mark: cleanup refuses it', async () => {
    const p = await protectedJobWithDaemon(false)
    const st = procTable.stat(p.daemon.pid)!
    expect(st.ppid).not.toBe(p.jobPid) // out of the job's tree …
    expect(procTable.ancestors(p.daemon.pid).some((a) => a.pid === p.jobPid || a.pid === p.wrapper.pid)).toBe(false)
    expect(st.sid).toBe(p.daemon.pid) // … and of its session
    const r = await medic(['cleanup', '--port', String(p.daemon.port), '--state-dir', j.tmp(), '-v'], {env: p.env})
    expectContract(r, 'PORT_ALERT')
    expect(r.stdout).toMatch(/carries the MEDIC_PROTECTED mark of run-dev-safe \(job "sh"\)|in the cgroup of run-dev-safe \(job "sh"\)/)
    expect(alive(p.daemon.pid)).toBe(true)
    expect(await p.stop()).toBe(143)
  })

  it('one that also clears its environment is still recognised by the job\'s cgroup (root)', async (ctx) => {
    if (process.getuid?.() !== 0 || !cgroup2Mount()) {
      console.log('skipped: a cgroup for the job needs root and a cgroup2 hierarchy')
      return ctx.skip()
    }
    const p = await protectedJobWithDaemon(true)
    expect(procTable.envVar(p.daemon.pid, 'MEDIC_PROTECTED')).toBeNull()
    const r = await medic(['cleanup', '--port', String(p.daemon.port), '--state-dir', j.tmp(), '-v'], {env: p.env})
    expectContract(r, 'PORT_ALERT')
    expect(r.stdout).toMatch(/in the cgroup of run-dev-safe \(job "sh"\), \/.*medic-protect-\d+-\d+/)
    expect(alive(p.daemon.pid)).toBe(true)
    // health's repair refuses it too, through the same gate
    const h = await medic(['health', '--port', String(p.daemon.port), '--url', `http://127.0.0.1:${p.daemon.port}/x`, '--healthy-status', '299', '--reprobe-delay', '0', '--manager', 'command', '--start-cmd', 'true', '--state-dir', j.tmp(), '-v'], {env: p.env})
    expectContract(h, 'GATEWAY_ALERT')
    expect(h.stdout).toMatch(/never signals: in the cgroup of run-dev-safe/)
    expect(alive(p.daemon.pid)).toBe(true)
    expect(await p.stop()).toBe(143)
  })
})
