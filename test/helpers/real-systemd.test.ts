import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {alive, expectContract, until} from './procs.js'
import {announceRealSystemdSkip, bootRealSystemd, MASKED_UNITS, reapOrphans, realSystemdSkip} from './real-systemd.js'

/** The harness itself: it boots a real systemd, keeps the host out of reach, and always tears down. */
announceRealSystemdSkip('the real-systemd harness tests')

describe.skipIf(realSystemdSkip())('the real-systemd harness', () => {
  it('boots systemd as PID 1, runs units and medic inside, never touches the host, and tears down', async () => {
    const canary = join(tmpdir(), `medic-canary-${process.pid}-${Date.now()}`)
    writeFileSync(canary, 'host /tmp must survive a boot')
    const hostLinks = spawnSync('ip', ['-o', 'link']).stdout.toString()
    const rs = await bootRealSystemd()
    const cg = readFileSync(join(rs.share, '..', 'cgroup'), 'utf8')
    try {
      writeFileSync(join(rs.share, 'canary'), 'binds below /tmp must survive a boot')
      expect(rs.name).toMatch(new RegExp(`^medic-${process.pid}-[0-9a-f]{8}$`))
      expect((await rs.sh('cat /proc/1/comm')).trim()).toBe('systemd')
      expect((await rs.exec(['systemctl', 'is-system-running'])).stdout.trim()).toMatch(/^(running|degraded)$/)
      for (const u of ['systemd-tmpfiles-clean.timer', 'systemd-sysctl.service', 'apt-daily.timer']) {
        expect(MASKED_UNITS).toContain(u)
        expect((await rs.exec(['systemctl', 'is-enabled', u])).stdout.trim()).toBe('masked-runtime')
      }
      // Private network (only lo), private /tmp (the host canary is not visible), read-only worktree.
      expect((await rs.sh('ip -o link | cut -d: -f2 | tr -d " "')).trim()).toBe('lo')
      expect((await rs.exec(['test', '-e', canary])).code).toBe(1)
      const ro = await rs.exec(['touch', join(process.cwd(), 'package.json')])
      expect(ro.code).not.toBe(0)
      expect(ro.stderr).toMatch(/Read-only file system/)
      // The share dir is the same directory on both sides.
      await rs.writeFile(join(rs.share, 'from-inside'), 'hello')
      expect(readFileSync(join(rs.share, 'from-inside'), 'utf8')).toBe('hello')
      // A real unit, started and seen by systemctl, with its own cgroup.
      await rs.writeFile('/etc/systemd/system/harness-sleep.service', '[Service]\nExecStart=/bin/sleep infinity\n')
      await rs.sh('systemctl daemon-reload && systemctl start harness-sleep')
      expect((await rs.exec(['systemctl', 'is-active', 'harness-sleep'])).stdout.trim()).toBe('active')
      expect((await rs.exec(['systemctl', 'show', '-p', 'ControlGroup', '--value', 'harness-sleep'])).stdout.trim()).toBe('/system.slice/harness-sleep.service')
      // medic runs inside, from the read-only worktree.
      const r = await rs.medic(['cleanup', '--port', '9', '--dry-run'])
      expectContract(r, 'PORT_OK')
    } finally {
      await rs.down()
    }
    expect(alive(rs.initPid)).toBe(false)
    expect(existsSync(cg)).toBe(false)
    expect(existsSync(rs.share)).toBe(false)
    expect(readFileSync(canary, 'utf8')).toBe('host /tmp must survive a boot')
    expect(spawnSync('ip', ['-o', 'link']).stdout.toString()).toBe(hostLinks)
    rmSync(canary)
  })

  it('boots a lingering user with a real systemd --user', async () => {
    const rs = await bootRealSystemd()
    try {
      const u = await rs.addUser('gw', {linger: true})
      expect(u.uid).toBeGreaterThan(0)
      const r = await rs.exec(['systemctl', '--user', 'is-system-running'], {user: u})
      expect(r.stdout.trim()).toMatch(/^(running|degraded)$/)
      expect((await rs.exec(['id', '-un'], {user: u})).stdout.trim()).toBe('gw')
    } finally {
      await rs.down()
    }
  })

  it('reaps an instance whose owner died', async () => {
    const rs = await bootRealSystemd()
    const dir = join(rs.share, '..')
    // An owner that is gone: a child that already exited, with its real start time.
    const gone = spawnSync(process.execPath, ['-e', 'const s=require("fs").readFileSync("/proc/self/stat","latin1");process.stdout.write(process.pid+" "+s.slice(s.lastIndexOf(")")+2).split(" ")[19])'])
    const [pid, startTime] = gone.stdout.toString().split(' ')
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({pid: Number(pid), startTime}))
    try {
      expect(await reapOrphans()).toContain(rs.name)
      expect(alive(rs.initPid)).toBe(false)
      expect(existsSync(dir)).toBe(false)
    } finally {
      await rs.down()
    }
  })

  it('dies with its owner: a SIGKILLed owner takes the namespace down at once, and the reaper cleans up', async () => {
    // The owner is a child process that boots an instance and is then SIGKILLed.
    const {spawn} = await import('node:child_process')
    const out = join(tmpdir(), `medic-rs-owner-${process.pid}-${Date.now()}.json`)
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/helpers/real-systemd-owner.config.ts'], {env: {...process.env, MEDIC_RS_OWNER_OUT: out}, stdio: 'ignore'})
    const info = await until('the child’s instance', () => {
      try {
        return JSON.parse(readFileSync(out, 'utf8')) as {name: string; initPid: number; owner: number}
      } catch {
        return null
      }
    }, 60_000)
    expect(alive(info.initPid)).toBe(true)
    // The owner is vitest's worker process (the one that booted it): SIGKILL it, then its parent.
    process.kill(info.owner, 'SIGKILL')
    child.kill('SIGKILL')
    await until('the namespace to die with its owner', () => !alive(info.initPid), 10_000)
    expect(await reapOrphans()).toContain(info.name)
    expect(existsSync(join(tmpdir(), 'medic-real-systemd', info.name))).toBe(false)
    rmSync(out, {force: true})
  })

  it('leaves a live owner’s instance alone', async () => {
    const rs = await bootRealSystemd()
    try {
      expect(await reapOrphans()).not.toContain(rs.name)
      expect(alive(rs.initPid)).toBe(true)
    } finally {
      await rs.down()
    }
  })
})
