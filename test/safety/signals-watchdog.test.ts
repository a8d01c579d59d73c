// watchdog restarts the gateway only for a hang of the managed service's own processes
// (attack-gate A3): another user's process that merely carries the gateway's name, hung
// in D or Z state, must not make root's watchdog kill the real gateway.
import {spawn} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, Janitor, medic, startService, until} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
/** The child exits only once its parent has exec'd into sleep (which never reaps it), so the shell cannot reap it first. */
const ZOMBIE = `"$0" -c 'while read c < /proc/$PPID/comm && [ "$c" != sleep ]; do :; done' & echo $!; exec sleep 1000`
/** A program name no other test (nor another run's leftover zombie) carries. */
const uniqueName = () => `gw${process.pid % 1000}${Math.random().toString(36).slice(2, 8)}`
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

describe('watchdog: only the managed service can be hung', () => {
  it("A3: another user's zombie named like the gateway: root's watchdog leaves the real gateway alone", async (ctx) => {
    const why = users.cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      return ctx.skip()
    }
    const u = users.create()
    // A program whose name (comm) is the gateway's, runnable by the user.
    const bin = join(j.tmp(), 'bin')
    mkdirSync(bin)
    chmodSync(join(bin, '..'), 0o755)
    const name = uniqueName()
    const fake = join(bin, name)
    copyFileSync('/bin/sh', fake) // a shell by another name: it can wait for the handshake
    chmodSync(fake, 0o755)
    // The user's zombie: its parent execs into sleep and never reaps it.
    const z = spawn('sh', ['-c', ZOMBIE, fake], {stdio: ['ignore', 'pipe', 'ignore'], detached: true, uid: u.uid, gid: u.gid})
    j.child(z)
    const zpid = Number(await new Promise<string>((r) => z.stdout!.once('data', (d) => r(String(d)))))
    await until('the zombie', () => readFileSync(`/proc/${zpid}/stat`, 'latin1').includes(') Z '))
    expect(procTable.realUid(zpid)).toBe(u.uid)
    // Root's real gateway, holding the port; the manager knows it by its pid file.
    const pidFile = join(j.tmp(), 'gw.pid')
    const gw = await startService(j, ['--pid-file', pidFile])
    const root = j.tmp()
    mkdirSync(join(root, 'sessions')) // a missing sessions dir would be WATCHDOG_UNKNOWN
    const r = await medic(['watchdog', '--once', '--json', '--sessions-dir', join(root, 'sessions'), '--ops-dir', '', '--restart-flag', '', '--state-dir', join(root, 'state'),
      '--port', String(gw.port), '--gateway-match', `^${name}\\b`, '--hang-threshold', '0s', '--manager', 'command', '--start-cmd', 'true', '--pid-file', pidFile, '--grace', '500ms'])
    const v = JSON.parse(r.stdout)
    expect(v.checks.find((c: {name: string}) => c.name === 'gateway').detail).toMatch(new RegExp(`pid ${zpid} \\(${name}, uid ${u.uid}\\) in Z .* is not the service's`))
    expect(v.status).toBe('OK')
    expect(alive(gw.pid)).toBe(true)
  })

  it('a zombie named like the gateway when the service is unknown (no manager, nothing on the port): ALERT, nothing restarted', async () => {
    const bin = j.tmp()
    const name = uniqueName()
    const fake = join(bin, name)
    copyFileSync('/bin/sh', fake) // a shell by another name: it can wait for the handshake
    const z = spawn('sh', ['-c', ZOMBIE, fake], {stdio: ['ignore', 'pipe', 'ignore'], detached: true})
    j.child(z)
    const zpid = Number(await new Promise<string>((r) => z.stdout!.once('data', (d) => r(String(d)))))
    await until('the zombie', () => readFileSync(`/proc/${zpid}/stat`, 'latin1').includes(') Z '))
    const root = j.tmp()
    const {freePort} = await import('../helpers/procs.js')
    const r = await medic(['watchdog', '--once', '--sessions-dir', join(root, 'none'), '--ops-dir', '', '--restart-flag', '', '--state-dir', join(root, 'state'),
      '--port', String(await freePort()), '--gateway-match', `^${name}\\b`, '--hang-threshold', '0s', '--manager', 'none'])
    expect(r.lines[0]).toMatch(new RegExp(`^WATCHDOG_ALERT: pid ${zpid} \\(${name}, uid 0\\) in Z .*the service's processes are unknown`))
  })
})
