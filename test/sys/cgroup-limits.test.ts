import {describe, expect, it} from 'vitest'
import {shimRefusal} from '../../src/sys/cgroup.js'
import {spawnJob} from '../../src/sys/spawn-job.js'

function run(o: Parameters<typeof spawnJob>[0]): Promise<{code: number | null; stdout: string; stderr: string}> {
  const c = spawnJob(o)
  let stdout = ''
  let stderr = ''
  c.stdout!.on('data', (d) => (stdout += d))
  c.stderr!.on('data', (d) => (stderr += d))
  return new Promise((r) => c.on('close', (code) => r({code, stdout, stderr})))
}

describe('the spawn shim and its limit cgroups', () => {
  it('does not start a job whose limit cgroup it cannot join, and says so with its token', async () => {
    const r = await run({argv: ['/bin/echo', 'ran'], env: {PATH: process.env.PATH}, cgroup: null, limits: ['/nonexistent/medic-x/cgroup.procs'], token: 'T0k', stdio: ['ignore', 'pipe', 'pipe']})
    expect(r.code).toBe(125)
    expect(r.stdout).toBe('')
    expect(shimRefusal(r.stderr, 'T0k')).toBe('could not join cgroup /nonexistent/medic-x/cgroup.procs, its limits would not bind')
    // Only the token's owner recognises it: a job printing a lookalike line with another token is not a refusal.
    expect(shimRefusal('medic-shim other: not started: x', 'T0k')).toBeNull()
    expect(shimRefusal(r.stderr, '')).toBeNull()
  })

  it('passes the job its argv exactly once the cgroups are joined (a leading -- included)', async () => {
    const r = await run({argv: ['/usr/bin/printf', '[%s]', '--', '', 'a b'], env: {PATH: process.env.PATH}, cgroup: null, limits: ['/dev/null'], token: 'T', stdio: ['ignore', 'pipe', 'pipe']})
    expect(r).toMatchObject({code: 0, stdout: '[--][][a b]'})
  })
})
