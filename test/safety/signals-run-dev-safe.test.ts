// run-dev-safe registers before it starts the job, or does not start it (issue 9,
// defect 7): with a full state/registry disk the job must not run unprotected.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {BIN, Janitor} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

describe('run-dev-safe fails closed', () => {
  it('a full registry and state disk: the job is not started, DEVRUN_UNKNOWN on stderr, exit 3, stdout untouched', async (ctx) => {
    if (process.getuid?.() !== 0 || spawnSync('unshare', ['--help'], {stdio: 'ignore'}).error) {
      console.log('skipped: a full tmpfs in a private mount namespace needs root and unshare(1)')
      return ctx.skip()
    }
    const dir = j.tmp()
    const mnt = join(dir, 'full')
    mkdirSync(mnt)
    const ran = join(dir, 'job-ran')
    // In a private mount namespace (gone with it): a 64 KiB tmpfs, filled to ENOSPC, holds
    // the host registry and the state dir. A constant script; paths come in as arguments.
    const script = 'mount -t tmpfs -o size=64k medic-full "$1" && mkdir -m 1777 "$1/protected" && mkdir "$1/state" && { dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && export MEDIC_PROTECTED_DIR="$1/protected" && shift && exec "$@"'
    const c = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'full', mnt,
      process.execPath, BIN, 'run-dev-safe', '--state-dir', join(mnt, 'state'), '--log-file', join(dir, 'job.log'), '--no-trace', '--',
      process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(ran)}, 'ran'); setInterval(() => {}, 1e9)`], {stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let stdout = ''
    let stderr = ''
    c.stdout!.on('data', (d) => (stdout += d))
    c.stderr!.on('data', (d) => (stderr += d))
    const code = await new Promise((r) => c.once('close', r))
    expect(code).toBe(3)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^DEVRUN_UNKNOWN: node: not started: cannot register pid \d+ in \S+\/protected: ENOSPC$/m)
    expect(stderr).not.toContain('Mode: PROTECTED')
    expect(existsSync(ran)).toBe(false) // never started: nothing runs unprotected
  })
})
