import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {countJournalRestarts, parseDockerInspect, parsePm2Jlist, parseSystemctlShow, systemdView, unavailableText} from '../../src/core/manager-parse.js'

const snap = (name: string) => readFileSync(new URL(`../fixtures/snapshots/${name}`, import.meta.url), 'utf8')

// pm2-jlist-*.json were captured from pm2 7.0.4 on this machine; systemctl-show-*-real.txt
// from systemd 252 in the real-systemd test tier (test/helpers/real-systemd.ts). Docker does
// not run here: its snapshots follow Docker 28's output format.
describe('systemctl show', () => {
  it('reads an active unit with its cgroup', () => {
    expect(systemdView(parseSystemctlShow(snap('systemctl-show-active.txt')))).toEqual({
      state: 'active', raw: 'active (running)', mainPid: 4242, cgroup: '/system.slice/clawdbot-gateway.service',
      restarts: [{count: 0, source: 'systemd NRestarts (since the unit was last started by hand)'}],
    })
  })

  it('reads a unit looping in auto-restart (seed 000: 388 restarts)', () => {
    const v = systemdView(parseSystemctlShow(snap('systemctl-show-activating-auto-restart.txt')))
    expect(v).toMatchObject({state: 'activating', raw: 'activating (auto-restart)', mainPid: null})
    expect(v.restarts[0].count).toBe(388)
  })

  it('reads an empty ControlGroup= between restarts as "no processes", not "unknown", and a stale unit file', () => {
    // Captured from a real systemd 252 while seed 000 looped, after the unit file was edited.
    const v = systemdView(parseSystemctlShow(snap('systemctl-show-auto-restart-stale-real.txt')))
    expect(v).toMatchObject({state: 'activating', raw: 'activating (auto-restart)', mainPid: null, cgroup: '', noProcesses: true, needsReload: true})
    expect(systemdView(parseSystemctlShow(snap('systemctl-show-activating-auto-restart.txt'))).noProcesses).toBe(true)
    expect(systemdView(parseSystemctlShow(snap('systemctl-show-active.txt'))).noProcesses).toBeUndefined()
    // Left-overs in the cgroup of a unit that is between runs are not the service either.
    expect(systemdView({LoadState: 'loaded', ActiveState: 'activating', SubState: 'auto-restart', MainPID: '0', ControlGroup: '/system.slice/x.service'}).noProcesses).toBe(true)
    expect(systemdView({LoadState: 'loaded', ActiveState: 'failed', SubState: 'failed', MainPID: '0', ControlGroup: '/system.slice/x.service'}).noProcesses).toBe(true)
    // An ExecStartPre= running: the cgroup is the service's.
    expect(systemdView({LoadState: 'loaded', ActiveState: 'activating', SubState: 'start-pre', MainPID: '0', ControlGroup: '/system.slice/x.service'}).noProcesses).toBeUndefined()
    expect(systemdView({LoadState: 'not-found', ActiveState: 'inactive', ControlGroup: ''}).noProcesses).toBeUndefined()
  })

  it('names the manager once in why it cannot be used', () => {
    expect(unavailableText({kind: 'systemd-user', label: 'systemd --user unit x'}, 'Failed to connect to bus')).toBe('systemd --user unit x: Failed to connect to bus')
    expect(unavailableText({kind: 'none', label: 'none'}, 'no manager (--manager none): check only')).toBe('no manager (--manager none): check only')
  })

  it('says not-found for a unit that does not exist', () => {
    expect(systemdView(parseSystemctlShow(snap('systemctl-show-not-found.txt'))).state).toBe('not-found')
  })

  it('reads only the first unit of several', () => {
    expect(parseSystemctlShow('A=1\nB=x=y\n\nA=2\n')).toEqual({A: '1', B: 'x=y'})
  })
})

describe('journalctl', () => {
  it('counts scheduled restart jobs, and zero is zero (not "0\\n0")', () => {
    expect(countJournalRestarts(snap('journalctl-restart-loop.txt'))).toBe(3)
    expect(countJournalRestarts('')).toBe(0)
    expect(countJournalRestarts('Started clawdbot-gateway.service.\n')).toBe(0)
  })
})

describe('pm2 jlist (captured)', () => {
  it('reads an online app', () => {
    expect(parsePm2Jlist(snap('pm2-jlist-online.json'), 'gateway')).toMatchObject({state: 'active', raw: 'online', mainPid: 15024, restarts: [{count: 0}]})
  })
  it('reads a stopped app', () => {
    expect(parsePm2Jlist(snap('pm2-jlist-stopped.json'), 'gateway')).toMatchObject({state: 'inactive', raw: 'stopped', mainPid: null})
  })
  it('reads an errored app with its restarts', () => {
    expect(parsePm2Jlist(snap('pm2-jlist-errored.json'), 'crashy')).toMatchObject({state: 'failed', raw: 'errored', restarts: [{count: 2}]})
  })
  it('says not-found for another name, and survives warnings before the JSON', () => {
    expect(parsePm2Jlist(snap('pm2-jlist-online.json'), 'nope').state).toBe('not-found')
    expect(parsePm2Jlist(`[PM2] Spawning PM2 daemon\n${snap('pm2-jlist-online.json')}`, 'gateway').state).toBe('active')
    expect(parsePm2Jlist('garbage', 'x').state).toBe('unknown')
  })
})

describe('docker inspect', () => {
  it('reads a restarting container with its restart count and health', () => {
    expect(parseDockerInspect(snap('docker-inspect-restarting.json'))).toMatchObject({state: 'activating', raw: 'restarting, health unhealthy', mainPid: null, restarts: [{count: 57}]})
  })
  it('reads a running container', () => {
    expect(parseDockerInspect(snap('docker-inspect-running.json'))).toMatchObject({state: 'active', mainPid: 31337})
  })
  it('handles no container and garbage', () => {
    expect(parseDockerInspect('[]').state).toBe('not-found')
    expect(parseDockerInspect('Error').state).toBe('unknown')
  })
})
