import {describe, expect, it} from 'vitest'
import {announceRealSystemdSkip, realSystemdSkip, useRealSystemd} from '../helpers/real-systemd.js'

/**
 * `medic isolate` where systemd is PID 1: the job goes into a transient scope
 * (`systemd-run --scope -p MemoryMax=…`), and a check inside the scope, before the job,
 * proves the limit is in the kernel's files — systemd sets a limit whose controller is
 * missing without complaint. Inside this host's namespaces the cgroup2 tree has no memory
 * controller (the host binds it to cgroup v1): there the job must NOT start.
 */
announceRealSystemdSkip('medic isolate under a real systemd')

const ALLOC = `const n = Number(process.argv[1]); const held = []; for (let i = 0; i < n; i++) held.push(Buffer.alloc(1 << 20, i & 255)); console.log('allocated', n)`

describe.skipIf(realSystemdSkip())('medic isolate under a real systemd', () => {
  const rs = useRealSystemd()

  it('asks systemd for a scope with the limit, and starts the job only if the kernel enforces it', async () => {
    const controllers = (await rs().sh('cat /sys/fs/cgroup/cgroup.controllers')).split(/\s+/)
    const r = await rs().medic(['isolate', '--memory-max', '64M', '--state-dir', '/tmp/isolate-state', '--', process.execPath, '-e', ALLOC, '200'])
    expect(r.stderr).toMatch(/limits: systemd scope medic-isolate-\d+-\d+\.scope: MemoryMax=64 MiB/)
    if (controllers.includes('memory')) {
      expect(r.code).toBe(137)
      expect(r.stderr).toMatch(/KILLED BY SIGKILL \(exit code: 137\) — sent by the kernel OOM killer in its own cgroup/)
    } else {
      expect(r.code).toBe(3)
      expect(r.stderr).toMatch(/NOT STARTED: systemd did not set memory\.max to 67108864 in \/sys\/fs\/cgroup\/\S+medic-isolate-\d+-\d+\.scope/)
      expect(r.stderr).toMatch(/^DEVRUN_UNKNOWN: node: not started: /m)
      expect(r.stdout).not.toMatch(/allocated/)
    }
  })

  it('a CPU weight alone is proven the same way', async () => {
    const controllers = (await rs().sh('cat /sys/fs/cgroup/cgroup.controllers')).split(/\s+/)
    const r = await rs().medic(['isolate', '--cpu-weight', '50', '--state-dir', '/tmp/isolate-state', '--', '/bin/sh', '-c', 'echo ran'])
    if (controllers.includes('cpu')) {
      expect(r.code).toBe(0)
      expect(r.stdout).toBe('ran\n')
    } else {
      expect(r.code).toBe(3)
      expect(r.stderr).toMatch(/not started: systemd did not set cpu\.weight to 50/)
      expect(r.stdout).toBe('')
    }
  })
})
