import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {systemdCommand} from '../../src/core/units.js'
import {expectContract, SERVICE, until, type MedicResult} from '../helpers/procs.js'
import {announceRealSystemdSkip, realSystemdSkip, useRealSystemd, type User} from '../helpers/real-systemd.js'

/**
 * medic install → verify → uninstall against a REAL systemd (PID 1 of a private namespace):
 * a gateway unit's health timer and its hardening drop-in, a supervise service, the
 * systemd --user and cron targets, and every way to make medic overwrite or remove a file
 * it did not write.
 */
announceRealSystemdSkip('medic install under a real systemd')

const json = (r: MedicResult) => JSON.parse(r.stdout)

describe.skipIf(realSystemdSkip())('medic install under a real systemd', () => {
  const rs = useRealSystemd()
  const GW = 18789

  async function gateway(): Promise<void> {
    await rs().writeFile('/etc/systemd/system/clawdbot-gateway.service', `[Unit]\nDescription=the gateway (medic test)\n\n[Service]\nExecStart=${process.execPath} ${SERVICE} --port ${GW}\nKillMode=mixed\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n`)
    await rs().sh('systemctl daemon-reload && systemctl enable --now clawdbot-gateway')
    await until('the gateway answers', async () => (await rs().exec(['curl', '-sf', '--max-time', '2', `http://127.0.0.1:${GW}/`])).code === 0)
  }
  const show = async (unit: string, props: string, user?: User) => (await rs().exec(['systemctl', ...(user ? ['--user'] : []), 'show', unit, '--no-pager', '-p', props], {user})).stdout
  const mtime = async (path: string) => (await rs().sh(`stat -c %Y.%i "${path}"`)).trim()

  it('installs a gateway’s health timer with its hardening and a supervise service; verify says OK; a stopped timer is ALERT; uninstall removes exactly that', async () => {
    await gateway()
    const health = ['install', '--every', '1m', '--unit', 'clawdbot-gateway', '--', 'health', '--manager', 'systemd', '--unit', 'clawdbot-gateway', '--port', String(GW), '--url', `http://127.0.0.1:${GW}/`]
    const r = await rs().medic(['install', '-v', ...health.slice(1)])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/^INSTALL_OK: installed medic-health-gateway \(timer every 1m, hardened clawdbot-gateway\.service\); first run GATEWAY-OK/)
    expect(r.stdout).toMatch(/check systemd-analyze verify: ok - medic-health-gateway\.service, medic-health-gateway\.timer, clawdbot-gateway\.service, clawdbot-gateway\.service\.d\/medic-health-gateway\.conf/)
    // The hardening is in effect for the gateway: ExecStartPre=medic cleanup, KillMode=control-group.
    const gw = await show('clawdbot-gateway', 'KillMode,TimeoutStopUSec,ExecStartPre,DropInPaths,StartLimitBurst')
    expect(gw).toMatch(/^KillMode=control-group$/m)
    expect(gw).toMatch(/^TimeoutStopUSec=30s$/m)
    expect(gw).toMatch(/^StartLimitBurst=5$/m)
    expect(gw).toMatch(/^ExecStartPre=.*argv\[\]=\S+node \S+run\.js cleanup --port 18789 --exit-codes binary/m)
    expect(gw).toMatch(/^DropInPaths=\/etc\/systemd\/system\/clawdbot-gateway\.service\.d\/medic-health-gateway\.conf$/m)
    expect(await show('medic-health-gateway.timer', 'UnitFileState,ActiveState')).toMatch(/UnitFileState=enabled[\s\S]*ActiveState=active|ActiveState=active[\s\S]*UnitFileState=enabled/)

    const sup = await rs().medic(['install', '--name', 'sup', '--', 'supervise', '--name', 'sup', '--port', '18800', '--', process.execPath, SERVICE, '--port', '18800'])
    expectContract(sup, 'INSTALL_OK')
    expect(sup.lines[0]).toMatch(/^INSTALL_OK: installed medic-sup \(service\)$/)
    await until('the supervised service answers', async () => (await rs().exec(['curl', '-sf', '--max-time', '2', 'http://127.0.0.1:18800/'])).code === 0)
    const unit = await rs().readFile('/etc/systemd/system/medic-sup.service')
    for (const l of ['Restart=on-failure', 'RestartSec=10s', 'KillMode=control-group', 'Type=simple']) expect(unit!.split('\n')).toContain(l)

    // Every unit medic wrote passes systemd-analyze verify where it lies.
    const analyze = await rs().exec(['systemd-analyze', 'verify', '/etc/systemd/system/medic-health-gateway.service', '/etc/systemd/system/medic-health-gateway.timer', '/etc/systemd/system/medic-sup.service', 'clawdbot-gateway.service'])
    expect(analyze.stderr.trim()).toBe('')
    expect(analyze.code).toBe(0)

    const v = await rs().medic(['verify', '-v'])
    expectContract(v, 'INSTALL_OK')
    expect(v.lines[0]).toMatch(/^INSTALL_OK: verified medic-health-gateway \(last run GATEWAY-OK \d+(ms|\.\ds|s) ago\), medic-sup \(running\)$/)
    expect(v.stdout).toMatch(/check last run of medic-health-gateway: ok - GATEWAY-OK/)
    expect(v.stdout).toMatch(/check hardening of clawdbot-gateway\.service: ok/)
    expect(v.stdout).toMatch(/check medic-sup\.service: ok - loaded, enabled, active \(running\)/)
    for (const mode of ['nagios', 'binary']) expect((await rs().medic(['verify', '--exit-codes', mode])).code).toBe(0)

    // Same input twice: nothing rewritten.
    const before = await Promise.all(['medic-health-gateway.service', 'medic-health-gateway.timer', 'clawdbot-gateway.service.d/medic-health-gateway.conf'].map((f) => mtime(`/etc/systemd/system/${f}`)))
    const again = await rs().medic(health)
    expectContract(again, 'INSTALL_OK')
    expect(again.lines[0]).toMatch(/already installed, nothing rewritten/)
    expect(await Promise.all(['medic-health-gateway.service', 'medic-health-gateway.timer', 'clawdbot-gateway.service.d/medic-health-gateway.conf'].map((f) => mtime(`/etc/systemd/system/${f}`)))).toEqual(before)

    // Stop the timer: verify names it (nagios 2, binary 1).
    await rs().sh('systemctl stop medic-health-gateway.timer')
    for (const [mode, code] of [['nagios', 2], ['binary', 1]] as const) {
      const bad = await rs().medic(['verify', '--exit-codes', mode])
      expectContract(bad, 'INSTALL_ALERT')
      expect(bad.code).toBe(code)
      expect(bad.lines[0]).toMatch(/medic-health-gateway\.timer is inactive \(dead\), not active/)
    }
    const vj = json(await rs().medic(['verify', '--json']))
    expect(vj.checks.filter((c: {status: string}) => c.status === 'ALERT').map((c: {name: string}) => c.name)).toEqual(['medic-health-gateway.timer'])

    // Uninstall removes exactly what it wrote; the gateway's own unit stays, its hardening goes.
    for (const name of ['health-gateway', 'sup']) expectContract(await rs().medic(['uninstall', '--name', name]), 'INSTALL_OK')
    expect((await rs().sh('ls /etc/systemd/system')).split('\n').filter((n) => n.startsWith('medic-') || n.startsWith('clawdbot-gateway.service.d'))).toEqual([])
    expect(await rs().readFile('/etc/systemd/system/clawdbot-gateway.service')).toMatch(/KillMode=mixed/)
    expect(await show('clawdbot-gateway', 'KillMode,DropInPaths')).toMatch(/^KillMode=mixed$/m)
    expect((await rs().exec(['systemctl', 'is-active', 'medic-sup'])).stdout.trim()).toBe('inactive')
    expectContract(await rs().medic(['verify', '--name', 'sup']), 'INSTALL_ALERT')
  })

  it('never overwrites or removes a file it did not write: a pre-existing unit, a hand-edited one, a symlink', async () => {
    // A unit of the same name that someone else wrote.
    await rs().writeFile('/etc/systemd/system/medic-theirs.service', '[Service]\nExecStart=/bin/true\n')
    const r = await rs().medic(['install', '--name', 'theirs', '--every', '1m', '--', 'cleanup', '--port', '9'])
    expectContract(r, 'INSTALL_ALERT')
    expect(json(await rs().medic(['install', '--json', '--name', 'theirs', '--every', '1m', '--', 'cleanup', '--port', '9'])).summary).toMatch(/\/etc\/systemd\/system\/medic-theirs\.service exists and medic did not write it; not overwriting/)
    expect(await rs().readFile('/etc/systemd/system/medic-theirs.service')).toBe('[Service]\nExecStart=/bin/true\n')
    expect(await rs().readFile('/etc/systemd/system/medic-theirs.timer')).toBeNull()
    expect(await rs().readFile('/var/lib/medic/install/theirs.json')).toBeNull()
    expectContract(await rs().medic(['uninstall', '--name', 'theirs']), 'INSTALL_OK')
    expect(await rs().readFile('/etc/systemd/system/medic-theirs.service')).toBe('[Service]\nExecStart=/bin/true\n')

    // A symlink where medic would write: the link and its target are left alone.
    await rs().writeFile('/root/victim', 'do not touch\n')
    await rs().sh('ln -s /root/victim /etc/systemd/system/medic-link.timer')
    const l = await rs().medic(['install', '--name', 'link', '--every', '1m', '--json', '--', 'cleanup', '--port', '9'])
    expect(json(l)).toMatchObject({token: 'INSTALL_ALERT', summary: expect.stringMatching(/medic-link\.timer is a symlink; medic never writes through one/)})
    expect(await rs().readFile('/root/victim')).toBe('do not touch\n')
    expect(await rs().readFile('/etc/systemd/system/medic-link.service')).toBeNull()

    // medic's own unit, edited by hand: install refuses to overwrite it, verify names it, uninstall leaves it.
    expectContract(await rs().medic(['install', '--name', 'mine', '--every', '1m', '--rules-file', '/root/rules.yml', '--', 'cleanup', '--port', '9']), 'INSTALL_OK')
    const path = '/etc/systemd/system/medic-mine.service'
    const edited = (await rs().readFile(path))!.replace('SuccessExitStatus=1', 'SuccessExitStatus=1 2')
    await rs().writeFile(path, edited)
    const v = json(await rs().medic(['verify', '--name', 'mine', '--json']))
    expect(v.token).toBe('INSTALL_ALERT')
    expect(v.summary).toMatch(/medic-mine\.service was changed since medic wrote it \(line \d+: "SuccessExitStatus=1" → "SuccessExitStatus=1 2"\)/)
    const i = json(await rs().medic(['install', '--json', '--name', 'mine', '--every', '2m', '--rules-file', '/root/rules.yml', '--', 'cleanup', '--port', '9']))
    expect(i).toMatchObject({token: 'INSTALL_ALERT', summary: expect.stringMatching(/medic-mine\.service was changed since medic wrote it; not overwriting/)})
    expect(await rs().readFile(path)).toBe(edited)
    expect(await rs().readFile('/etc/systemd/system/medic-mine.timer')).toMatch(/OnUnitActiveSec=1min/)
    // Replace its rules file by a symlink to a victim: uninstall removes neither.
    await rs().sh('rm /root/rules.yml && ln -s /root/victim /root/rules.yml')
    const u = json(await rs().medic(['uninstall', '--name', 'mine', '--json']))
    expect(u.token).toBe('INSTALL_ALERT')
    expect(u.summary).toMatch(/\/root\/rules\.yml is now a symlink medic did not make; left in place/)
    expect((await rs().exec(['test', '-L', '/root/rules.yml'])).code).toBe(0)
    expect(await rs().readFile('/etc/systemd/system/medic-mine.timer')).toBeNull()
    expect(u.summary).toMatch(/medic-mine\.service was changed since medic wrote it; left in place/)
    expect(await rs().readFile(path)).toBe(edited)
    expect(await rs().readFile('/root/victim')).toBe('do not touch\n')
    await rs().sh('rm -f /etc/systemd/system/medic-mine.* /etc/systemd/system/medic-link.timer /etc/systemd/system/medic-theirs.service && systemctl daemon-reload')
  })

  it('refuses to harden a unit that does not exist, and units systemd-analyze rejects, writing nothing', async () => {
    const r = json(await rs().medic(['install', '--json', '--name', 'h', '--unit', 'no-such-gateway', '--port', '1', '--', 'cleanup', '--port', '1']))
    expect(r).toMatchObject({token: 'INSTALL_ALERT', summary: 'no-such-gateway.service is not-found here: nothing to harden (install the unit first)'})
    expect(await rs().readFile('/etc/systemd/system/medic-h.service')).toBeNull()
  })

  it('quotes ExecStart words so the program gets exactly them (spaces, quotes, %, $, backslashes)', async () => {
    const words = ['plain', 'two words', 'say "hi"', '100%', '$HOME and ${USER}', 'back\\slash', "it's", ';', '']
    const out = join(rs().share, 'argv.json')
    const script = 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))'
    await rs().writeFile('/etc/systemd/system/quoting.service', `[Service]\nType=oneshot\nExecStart=${systemdCommand([process.execPath, '-e', script, out, ...words])}\n`)
    await rs().sh('systemctl daemon-reload && systemctl start quoting')
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(words)
  })

  it('installs for a lingering user’s systemd --user, and verify proves it', async () => {
    const u = await rs().addUser('gw', {linger: true})
    const r = await rs().medic(['install', '--every', '1m', '--', 'cleanup', '--port', '9'], {user: u})
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/installed medic-cleanup \(timer every 1m\); first run PORT-OK/)
    expect(await rs().readFile(`${u.home}/.config/systemd/user/medic-cleanup.timer`)).toMatch(/WantedBy=timers\.target/)
    expect(await show('medic-cleanup.timer', 'ActiveState', u)).toMatch(/ActiveState=active/)
    const v = await rs().medic(['verify', '-v'], {user: u})
    expectContract(v, 'INSTALL_OK')
    expect(v.stdout).toMatch(/check last run of medic-cleanup: ok - PORT-OK/)
    expect(v.stdout).toMatch(new RegExp(`check log ${u.home}/\\.local/state/medic/install/medic-cleanup\\.log|check log ${u.home}/\\.local/state/medic/install/cleanup\\.log`))
    expectContract(await rs().medic(['uninstall', '--name', 'cleanup'], {user: u}), 'INSTALL_OK')
    expect(await rs().readFile(`${u.home}/.config/systemd/user/medic-cleanup.timer`)).toBeNull()
  })

  it('makes the textfile dir and the rules part of an Ollama install; verify sees the textfile fresh and valid, then stale', async () => {
    const mode = join(rs().share, 'ollama-mode')
    const ready = join(rs().share, 'ollama.json')
    await rs().writeFile(mode, 'healthy')
    await rs().spawnDetached([process.execPath, join(SERVICE, '..', 'fake-ollama.mjs'), '--port', '11434', '--mode-file', mode, '--ready', ready])
    await until('the fake ollama', () => {
      try {
        return JSON.parse(readFileSync(ready, 'utf8')).port === 11434
      } catch {
        return false
      }
    })
    const r = await rs().medic(['install', '--textfile-dir', '/var/lib/prometheus/node-exporter', '--rules-file', '/etc/prometheus/rules/medic-ollama.yml', '--', 'ollama', 'metrics', '--watch', '1s', '--url', 'http://127.0.0.1:11434'])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/installed medic-ollama-metrics \(service\)/)
    const unit = (await rs().readFile('/etc/systemd/system/medic-ollama-metrics.service'))!
    for (const l of ['After=network.target ollama.service', 'Wants=ollama.service', 'Environment=TEXTFILE_DIR=/var/lib/prometheus/node-exporter']) expect(unit.split('\n')).toContain(l)
    expect(await rs().readFile('/etc/prometheus/rules/medic-ollama.yml')).toMatch(/^groups:/m)
    await until('the textfile', async () => (await rs().readFile('/var/lib/prometheus/node-exporter/ollama.prom')) !== null)
    const v = await rs().medic(['verify', '--name', 'ollama-metrics', '-v'])
    expectContract(v, 'INSTALL_OK')
    expect(v.stdout).toMatch(/check textfile \/var\/lib\/prometheus\/node-exporter\/ollama\.prom: ok - written \S+ ago, valid/)
    expect(v.stdout).toMatch(/check file \/etc\/prometheus\/rules\/medic-ollama\.yml: ok/)
    // The exporter stops: its textfile goes stale after 2 × its interval, and verify says so.
    await rs().sh('systemctl stop medic-ollama-metrics')
    await until('verify to see the stale textfile', async () => /ollama\.prom last written .* ago, more than 2 × 1s: stale/.test(json(await rs().medic(['verify', '--name', 'ollama-metrics', '--json'])).summary), 20_000)
    expectContract(await rs().medic(['uninstall', '--name', 'ollama-metrics']), 'INSTALL_OK')
    expect(await rs().readFile('/etc/prometheus/rules/medic-ollama.yml')).toBeNull()
    // The textfile dir holds what the exporter wrote: it stays (only an empty dir medic made goes).
    expect((await rs().exec(['test', '-d', '/var/lib/prometheus/node-exporter'])).code).toBe(0)
  })

  it('judges each install by its own runs: another health run of the same subject never vouches for a failing check, and a failed oneshot is ALERT', async () => {
    await gateway()
    const dead = 18790
    // gwdead's check fails (nothing listens on its port).
    const r = await rs().medic(['install', '--name', 'gwdead', '--every', '1m', '--', 'health', '--port', String(dead), '--url', `http://127.0.0.1:${dead}/`])
    expect(r.lines[0]).toMatch(/first run GATEWAY-ALERT/)
    expect(await rs().readFile('/etc/systemd/system/medic-gwdead.service')).toMatch(/^Environment=MEDIC_INSTALL_NAME=gwdead$/m)
    // A manual health run of another gateway, same subject, says OK.
    expectContract(await rs().medic(['health', '--manager', 'systemd', '--unit', 'clawdbot-gateway', '--port', String(GW), '--url', `http://127.0.0.1:${GW}/`]), 'GATEWAY_OK')
    const v = await rs().medic(['verify', '--name', 'gwdead', '-v'])
    expectContract(v, 'INSTALL_ALERT')
    expect(v.stdout).toMatch(/check last run of medic-gwdead: alert - it said GATEWAY-ALERT/)
    expect(v.stdout).toMatch(/check medic-gwdead\.service: alert - its last run failed \(Result=exit-code, ExecMainStatus=2\)/)
    // The reverse: a healthy install is not judged by gwdead's record.
    const ok = await rs().medic(['install', '--name', 'gwok', '--every', '1m', '--', 'health', '--port', String(GW), '--url', `http://127.0.0.1:${GW}/`])
    expect(ok.lines[0]).toMatch(/first run GATEWAY-OK/)
    await rs().exec(['systemctl', 'start', 'medic-gwdead.service'])
    expectContract(await rs().medic(['verify', '--name', 'gwok']), 'INSTALL_OK')
    expectContract(await rs().medic(['verify', '--name', 'gwdead']), 'INSTALL_ALERT')
    for (const n of ['gwdead', 'gwok']) expectContract(await rs().medic(['uninstall', '--name', n]), 'INSTALL_OK')
  }, 120_000)

  it('judges a long-running loop by its heartbeat: a SIGSTOPped watchdog service is ALERT, not OK (F6)', async () => {
    await rs().sh('mkdir -p /root/wd-sessions')
    const r = await rs().medic(['install', '--name', 'wd', '--', 'watchdog', '--interval', '1s', '--sessions-dir', '/root/wd-sessions', '--ops-dir', '', '--restart-flag', '', '--port', '9', '--manager', 'none'])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/installed medic-wd \(service\)/)
    const verbose = async () => rs().medic(['verify', '--name', 'wd', '-v'])
    const v = await until('a pass recorded', async () => {
      const x = await verbose()
      return /check heartbeat of medic-wd: ok - last pass WATCHDOG-OK/.test(x.stdout) ? x : null
    })
    expectContract(v, 'INSTALL_OK')
    const pid = /^MainPID=(\d+)$/m.exec(await show('medic-wd.service', 'MainPID'))![1]
    await rs().exec(['kill', '-STOP', pid])
    try {
      const frozen = await until('verify to see the frozen loop', async () => {
        const x = await verbose()
        return x.lines[0]?.startsWith('INSTALL_ALERT') ? x : null
      }, 60_000)
      expectContract(frozen, 'INSTALL_ALERT')
      expect(frozen.stdout).toMatch(/check heartbeat of medic-wd: alert - medic-wd's last pass was \S+ ago, more than 2 × \S+ \+ \S+: its loop is frozen/)
      // systemd still calls it running: only the heartbeat tells.
      expect(frozen.stdout).toMatch(/check medic-wd\.service: ok - loaded, enabled, active \(running\)/)
    } finally {
      await rs().exec(['kill', '-CONT', pid])
    }
    await until('the heartbeat again', async () => (await rs().medic(['verify', '--name', 'wd'])).lines[0]?.startsWith('INSTALL_OK'))
    expectContract(await rs().medic(['uninstall', '--name', 'wd']), 'INSTALL_OK')
  }, 120_000)

  it('uninstall never acts on a unit or a file a manifest names outside medic’s own pattern (F8)', async () => {
    await rs().writeFile('/etc/systemd/system/victim.service', '[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n')
    await rs().sh('systemctl daemon-reload && systemctl enable --now victim')
    expectContract(await rs().medic(['install', '--name', 'other', '--every', '1m', '--', 'cleanup', '--port', '9']), 'INSTALL_OK')
    const other = JSON.parse((await rs().readFile('/var/lib/medic/install/other.json'))!)
    const unitText = other.files[0].text
    expect(other.files[0].path).toBe('/etc/systemd/system/medic-other.service')
    const patches = [
      {systemd: {...other.systemd, service: 'victim.service', timer: null}, files: []}, // another unit's name
      {}, // another install's units and files, their exact bytes
      {systemd: {...other.systemd, service: null, timer: null}, files: [{...other.files[0], path: '/etc/systemd/system/../systemd/system/medic-other.service'}]},
    ]
    for (const patch of patches) {
      await rs().writeFile('/var/lib/medic/install/forged.json', JSON.stringify({...other, name: 'forged', unitName: 'medic-forged', request: {...other.request, name: 'forged'}, ...patch}))
      const u = json(await rs().medic(['uninstall', '--name', 'forged', '--json']))
      expect(u).toMatchObject({token: 'INSTALL_ALERT', actions: []})
      expect(u.summary).toMatch(/^refused, nothing removed: the manifest \/var\/lib\/medic\/install\/forged\.json names what is not medic-forged’s own/)
      expect((await rs().exec(['systemctl', 'is-active', 'victim'])).stdout.trim()).toBe('active')
      expect((await rs().exec(['systemctl', 'is-enabled', 'victim'])).stdout.trim()).toBe('enabled')
      expect(await rs().readFile('/etc/systemd/system/medic-other.service')).toBe(unitText)
      expect((await rs().exec(['systemctl', 'is-active', 'medic-other.timer'])).stdout.trim()).toBe('active')
      expectContract(await rs().medic(['verify', '--name', 'forged']), 'INSTALL_ALERT')
    }
    await rs().sh('rm /var/lib/medic/install/forged.json && systemctl disable --now victim && rm /etc/systemd/system/victim.service && systemctl daemon-reload')
    expectContract(await rs().medic(['uninstall', '--name', 'other']), 'INSTALL_OK')
  })

  it('installs a check into /etc/cron.d, runs it once, and verify sees the cron daemon and the fresh verdict', async () => {
    await rs().sh('systemctl start cron')
    const r = await rs().medic(['install', '--target', 'cron', '--every', '10m', '--', 'cleanup', '--port', '9'])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/installed medic-cleanup \(cron every 10m\); first run PORT-OK$/)
    const file = await rs().readFile('/etc/cron.d/medic-cleanup')
    expect(file).toMatch(/^\*\/10 \* \* \* \* root \S+node \S+run\.js cleanup --port 9 --log-file \/var\/lib\/medic\/install\/cleanup\.log >\/dev\/null 2>&1$/m)
    expect(file).toMatch(/^MEDIC_INSTALL_NAME=cleanup$/m)
    const v = await rs().medic(['verify', '--name', 'cleanup', '-v'])
    expectContract(v, 'INSTALL_OK')
    expect(v.stdout).toMatch(/check cron daemon: ok/)
    // A world-writable cron file (cron refuses it: INSECURE MODE) is ALERT, and install puts medic's back, never calling it the same.
    await rs().sh('chmod 666 /etc/cron.d/medic-cleanup')
    const insecure = await rs().medic(['verify', '--name', 'cleanup'])
    expectContract(insecure, 'INSTALL_ALERT')
    expect(insecure.lines[0]).toMatch(/\/etc\/cron\.d\/medic-cleanup has mode 0666, medic wrote it 0644/)
    const fixed = await rs().medic(['install', '--target', 'cron', '--every', '10m', '--', 'cleanup', '--port', '9'])
    expectContract(fixed, 'INSTALL_OK')
    expect(fixed.lines[0]).toMatch(/^INSTALL_OK: installed medic-cleanup/)
    expect((await rs().sh('stat -c %a.%u /etc/cron.d/medic-cleanup')).trim()).toBe('644.0')
    expectContract(await rs().medic(['verify', '--name', 'cleanup']), 'INSTALL_OK')
    // A last verdict dated in the future is no evidence: verify names the clock.
    const rec = '/var/lib/medic/last/install/cleanup.json'
    const saved = await rs().readFile(rec)
    await rs().sh(`sed -i -E 's/"at":"[^"]*"/"at":"2099-01-01T00:00:00.000Z"/' ${rec}`)
    const future = await rs().medic(['verify', '--name', 'cleanup', '-v'])
    expectContract(future, 'INSTALL_ALERT')
    expect(future.stdout).toMatch(/check last run of medic-cleanup: alert - last verdict dated .* in the future: .*clock/)
    await rs().writeFile(rec, saved!)
    await rs().sh('systemctl stop cron')
    const down = await rs().medic(['verify', '--name', 'cleanup'])
    expectContract(down, 'INSTALL_ALERT')
    expect(down.lines[0]).toMatch(/no cron daemon is running: medic-cleanup never runs/)
    expectContract(await rs().medic(['uninstall', '--name', 'cleanup']), 'INSTALL_OK')
    expect(await rs().readFile('/etc/cron.d/medic-cleanup')).toBeNull()
  })
})
