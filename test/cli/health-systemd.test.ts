import {describe, expect, it} from 'vitest'
import {expectContract} from '../helpers/procs.js'
import {announceRealSystemdSkip, realSystemdSkip, useRealSystemd, type User} from '../helpers/real-systemd.js'
import {seed000Systemd} from '../helpers/seed000-systemd.js'

/**
 * `medic health` against a REAL systemd (PID 1 of a private namespace): the seed-000
 * incident — an orphan holds the unit's port while the unit restart-loops, so systemd
 * reports `activating (auto-restart)`, MainPID=0 and an empty ControlGroup=.
 */
announceRealSystemdSkip('medic health under a real systemd')

describe.skipIf(realSystemdSkip())('medic health under a real systemd', () => {
  const rs = useRealSystemd()

  async function expectHealed(unit: string, sc: string[], orphanPid: number, port: number, user?: User): Promise<void> {
    const as = {user}
    expect((await rs().exec(['kill', '-0', String(orphanPid)], as)).code).not.toBe(0)
    expect((await rs().exec(['systemctl', ...sc, 'is-active', unit], as)).stdout.trim()).toBe('active')
    const main = (await rs().exec(['systemctl', ...sc, 'show', unit, '-p', 'MainPID', '--value'], as)).stdout.trim()
    const answer = await rs().exec(['curl', '-s', '--max-time', '5', `http://127.0.0.1:${port}/`])
    expect(JSON.parse(answer.stdout).pid).toBe(Number(main))
  }

  it('--manager systemd: labels seed 000 ORPHAN_PROCESS (not UNRESPONSIVE), reloads the stale unit, and recovers without waiting out the probes', async () => {
    const s = await seed000Systemd(rs(), {stale: true})
    expect((await rs().exec(['systemctl', 'show', s.unit, '-p', 'NeedDaemonReload', '--value'])).stdout.trim()).toBe('yes')
    const r = await rs().medic(['health', '--manager', 'systemd', '--unit', s.unit, '--port', String(s.port), '--url', `http://127.0.0.1:${s.port}/`, '--state-dir', '/var/lib/medic-t1', '-v'])
    expectContract(r, 'GATEWAY_RECOVERED')
    expect(r.lines[0]).toMatch(new RegExp(`^GATEWAY_RECOVERED: ORPHAN_PROCESS\\+GATEWAY_DEAD: port ${s.port} held by orphan pid ${s.orphanPid} \\(node\\); freed; restarted and verified`))
    expect(r.stdout).not.toMatch(/UNRESPONSIVE/)
    // The orphan was known to be outside the service: no probe was waited out against it.
    expect(r.stdout).toMatch(new RegExp(`check probe: alert - .*not awaited: port ${s.port} is held by pid ${s.orphanPid} \\(node\\) outside the service`))
    expect(r.stdout).not.toMatch(/re-probe after/)
    expect(r.stdout).toMatch(/check manager: ok - systemd unit clawdbot-gateway activating \(auto-restart\)/)
    expect(r.stdout).toMatch(/action start systemd unit clawdbot-gateway: ok/)
    expect(r.stdout).toMatch(/daemon-reload/)
    expect((await rs().exec(['systemctl', 'show', s.unit, '-p', 'NeedDaemonReload', '--value'])).stdout.trim()).toBe('no')
    expect((await rs().exec(['systemctl', 'show', s.unit, '-p', 'Environment', '--value'])).stdout.trim()).toBe('GEN=2')
    await expectHealed(s.unit, s.sc, s.orphanPid, s.port)
    await rs().sh(`systemctl stop ${s.unit}`)
  })

  it('--manager systemd-user: the same incident in a lingering user’s systemd --user, labelled once', async () => {
    const u = await rs().addUser('gw', {linger: true})
    const s = await seed000Systemd(rs(), {user: u, unit: 'openclaw-gateway', port: 18790})
    const r = await rs().medic(['health', '--manager', 'systemd-user', '--unit', s.unit, '--port', String(s.port), '--url', `http://127.0.0.1:${s.port}/`, '-v'], {user: u})
    expectContract(r, 'GATEWAY_RECOVERED')
    expect(r.lines[0]).toMatch(new RegExp(`^GATEWAY_RECOVERED: ORPHAN_PROCESS\\+GATEWAY_DEAD: port ${s.port} held by orphan pid ${s.orphanPid} \\(node\\); freed; restarted and verified`))
    expect(r.stdout).toMatch(/check manager: ok - systemd --user unit openclaw-gateway activating \(auto-restart\)/)
    await expectHealed(s.unit, s.sc, s.orphanPid, s.port, u)
    await rs().sh(`systemctl --user stop ${s.unit}`, {user: u})
  })

  it('names the manager once when it cannot be asked (systemd --user without a user bus)', async () => {
    const r = await rs().medic(['health', '--manager', 'systemd-user', '--unit', 'nope', '--port', '18791', '--state-dir', '/var/lib/medic-t3', '--reprobe-delay', '10ms', '--probe-timeout', '200ms', '-v'])
    expectContract(r, 'GATEWAY_ALERT')
    expect(r.stdout).toMatch(/systemd --user unit nope: /)
    expect(r.stdout).not.toMatch(/systemd --user unit nope: systemd --user unit nope/)
    const unknown = await rs().medic(['health', '--manager', 'systemd', '--unit', 'no-such-unit', '--port', '18791', '--state-dir', '/var/lib/medic-t3', '--reprobe-delay', '10ms', '--probe-timeout', '200ms', '-v'])
    expect(unknown.stdout).toMatch(/systemd unit no-such-unit: not found/)
    expect(unknown.stdout).not.toMatch(/systemd unit no-such-unit: systemd unit/)
  })
})
