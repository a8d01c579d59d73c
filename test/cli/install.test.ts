import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, Janitor, medic, type MedicResult} from '../helpers/procs.js'

/**
 * medic install / uninstall / verify without systemd: the contract of each command, the
 * wsl.conf merge, docker and print, and the runner's last-verdict record. The systemd and
 * cron targets run against a real systemd in test/cli/install-systemd.test.ts.
 */
const j = new Janitor()
afterEach(() => j.cleanup())
const json = (r: MedicResult) => JSON.parse(r.stdout)

const SEED_WSL = '[automount]\r\nenabled = true\r\noptions = "metadata"\r\n\r\n[boot]\r\nsystemd=true\r\n\r\n[user]\r\ndefault=root\r\n'

function wslSetup(text: string | null = SEED_WSL): {dir: string; conf: string; state: string; args: string[]} {
  const dir = j.tmp()
  const conf = join(dir, 'wsl.conf')
  if (text !== null) writeFileSync(conf, text)
  const state = join(dir, 'state')
  return {dir, conf, state, args: ['--target', 'wsl', '--wsl-conf', conf, '--state-dir', state]}
}
const BOOT = ['--', 'boot', '--name', 'gateway', '--port', '18789', '--', '/usr/bin/node', '/root/gateway/index.js']

describe('medic install, uninstall, verify: the contract', () => {
  it('answers bad input with INSTALL_UNKNOWN, exit 3 in both modes', async () => {
    const state = j.tmp()
    const cases: [string[], RegExp][] = [
      [['install', '--', 'frobnicate'], /"frobnicate" is not a medic command/],
      [['install'], /missing the command to install/],
      [['install', '--', 'health', '--bogus'], /after --: medic health: unknown flag --bogus/],
      [['install', '--target', 'cron', '--', 'supervise', '--', 'sleep', '9'], /needs a service manager/],
      [['install', '--target', 'cron', '--every', '7m', '--', 'health'], /cron cannot run something every 7min/],
      [['install', '--target', 'wsl', '--', 'health'], /medic boot/],
      [['install', '--name', '../etc', '--', 'health'], /letters, digits/],
      [['install', '--', 'kill-trace', '--', 'true'], /not something to install/],
      [['uninstall'], /--name is required/],
      [['uninstall', '--name', 'a/b'], /letters, digits/],
      [['verify', '--unit', 'a b'], /not a unit name/],
    ]
    for (const [args, why] of cases) {
      for (const mode of ['nagios', 'binary']) {
        const r = await medic([...args.slice(0, 1), '--state-dir', state, '--exit-codes', mode, ...args.slice(1)])
        expectContract(r, 'INSTALL_UNKNOWN')
        expect(r.code).toBe(3)
        expect(r.lines[0]).toMatch(why)
      }
    }
    expect(readdirSync(state).filter((n) => n !== 'locks')).toEqual([])
  })

  it('prints a Docker HEALTHCHECK with the seed’s timings, writing nothing (OK: 0 in both modes, one JSON object)', async () => {
    const r = await medic(['install', '--target', 'docker', '--', 'health', '--manager', 'none', '--no-repair'])
    expectContract(r, 'INSTALL_OK')
    expect(r.code).toBe(0)
    expect(r.lines[1]).toBe('HEALTHCHECK --interval=30s --timeout=10s --retries=3 --start-period=40s CMD ["medic","health","--manager","none","--no-repair","--exit-codes","binary"]')
    const b = await medic(['install', '--target', 'docker', '--every', '1m', '--exit-codes', 'binary', '--json', '--', 'health'])
    expect(b.code).toBe(0)
    expect(json(b)).toMatchObject({token: 'INSTALL_OK', exitCode: 0, target: 'docker', printed: [expect.stringMatching(/^HEALTHCHECK --interval=1m /)]})
    expect(b.stdout.trim().split('\n')).toHaveLength(1)
  })

  it('prints the units --target print would write, without writing them', async () => {
    const r = await medic(['install', '--target', 'print', '--every', '5m', '--unit', 'clawdbot-gateway', '--', 'health', '--port', '18789'])
    expectContract(r, 'INSTALL_OK')
    expect(r.stdout).toMatch(/^# \/etc\/systemd\/system\/medic-health-gateway\.timer$/m)
    expect(r.stdout).toMatch(/^ExecStartPre=\S+ \S+run\.js cleanup --port 18789 --exit-codes binary$/m)
    expect(existsSync('/etc/systemd/system/medic-health-gateway.timer')).toBe(false)
  })

  it('verify: UNKNOWN with nothing to verify, ALERT for an install that is not there', async () => {
    const state = j.tmp()
    for (const [mode, unknown, alert] of [['nagios', 3, 2], ['binary', 1, 1]] as const) {
      const none = await medic(['verify', '--state-dir', state, '--exit-codes', mode])
      expectContract(none, 'INSTALL_UNKNOWN')
      expect(none.code).toBe(unknown)
      const missing = await medic(['verify', '--name', 'gateway', '--state-dir', state, '--exit-codes', mode])
      expectContract(missing, 'INSTALL_ALERT')
      expect(missing.code).toBe(alert)
      expect(missing.lines[0]).toMatch(/medic-gateway is not installed/)
    }
    const nothing = await medic(['uninstall', '--name', 'gateway', '--state-dir', state])
    expectContract(nothing, 'INSTALL_OK')
    expect(nothing.lines[0]).toMatch(/nothing installed as gateway/)
  })
})

describe('medic install --target wsl', () => {
  it('merges the [boot] command into wsl.conf keeping every other byte, idempotently, and uninstall restores the file exactly', async () => {
    const w = wslSetup()
    const r = await medic(['install', ...w.args, ...BOOT])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/installed medic-boot-gateway \(\[boot\] command in .*wsl\.conf\); runs at the next WSL start/)
    const after = readFileSync(w.conf, 'utf8')
    const line = after.split('\r\n').find((l) => l.startsWith('command='))!
    expect(line).toMatch(/^command=\S+node \S+\/bin\/run\.js boot --name gateway --port 18789 --log-file \S+\/state\/install\/boot-gateway\.log --state-dir \S+\/state -- \/usr\/bin\/node \/root\/gateway\/index\.js$/)
    expect(after).toBe(SEED_WSL.replace('[boot]\r\n', `[boot]\r\n${line}\r\n`))
    const again = await medic(['install', ...w.args, ...BOOT])
    expectContract(again, 'INSTALL_OK')
    expect(again.lines[0]).toMatch(/already installed, nothing rewritten/)
    expect(readFileSync(w.conf, 'utf8')).toBe(after)
    const v = await medic(['verify', '--state-dir', w.state, '-v'])
    expectContract(v, 'INSTALL_OK')
    expect(v.stdout).toMatch(/check wsl .*wsl\.conf: ok - \[boot\] command as medic wrote it/)
    expect(v.stdout).toMatch(/check log .*boot-gateway\.log: ok/)
    const u = await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state])
    expectContract(u, 'INSTALL_OK')
    expect(readFileSync(w.conf, 'utf8')).toBe(SEED_WSL)
    expect(existsSync(join(w.state, 'install', 'boot-gateway.json'))).toBe(false)
  })

  it('creates wsl.conf when there is none, and removes only what it added', async () => {
    const w = wslSetup(null)
    expectContract(await medic(['install', ...w.args, ...BOOT]), 'INSTALL_OK')
    expect(readFileSync(w.conf, 'utf8')).toMatch(/^\[boot\]\ncommand=.*\n$/)
    expectContract(await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state]), 'INSTALL_OK')
    expect(readFileSync(w.conf, 'utf8')).toBe('')
  })

  it('refuses a [boot] command it did not write, and a wsl.conf that is a symlink, writing nothing', async () => {
    const seed = '[boot]\ncommand=/root/clawd/scripts/wsl_boot.sh\n'
    const w = wslSetup(seed)
    const r = await medic(['install', ...w.args, ...BOOT])
    expectContract(r, 'INSTALL_ALERT')
    expect(r.code).toBe(2)
    expect(r.lines[0]).toMatch(/refused, nothing written: wsl\.conf already has a \[boot\] command medic did not write/)
    expect(json(await medic(['install', ...w.args, '--json', ...BOOT])).summary).toMatch(/command=\/root\/clawd\/scripts\/wsl_boot\.sh; remove that line first/)
    expect(readFileSync(w.conf, 'utf8')).toBe(seed)
    expect(existsSync(join(w.state, 'install', 'boot-gateway.json'))).toBe(false)

    const victim = join(w.dir, 'victim.conf')
    writeFileSync(victim, SEED_WSL)
    const link = join(w.dir, 'link.conf')
    symlinkSync(victim, link)
    const s = await medic(['install', '--target', 'wsl', '--wsl-conf', link, '--state-dir', w.state, ...BOOT])
    expectContract(s, 'INSTALL_ALERT')
    expect(s.lines[0]).toMatch(/a symlink; medic edits only a regular file/)
    expect(readFileSync(victim, 'utf8')).toBe(SEED_WSL)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
  })

  it('leaves a hand-edited line in place on uninstall, says so, and verify names the drift', async () => {
    const w = wslSetup()
    expectContract(await medic(['install', ...w.args, ...BOOT]), 'INSTALL_OK')
    const edited = readFileSync(w.conf, 'utf8').replace('--port 18789', '--port 18790')
    writeFileSync(w.conf, edited)
    const v = await medic(['verify', '--state-dir', w.state])
    expectContract(v, 'INSTALL_ALERT')
    expect(v.lines[0]).toMatch(/medic’s \[boot\] command is not in .*wsl\.conf any more/)
    const again = await medic(['install', ...w.args, ...BOOT])
    expectContract(again, 'INSTALL_ALERT')
    expect(readFileSync(w.conf, 'utf8')).toBe(edited)
    const u = await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state, '--json'])
    expect(json(u)).toMatchObject({token: 'INSTALL_ALERT', exitCode: 2})
    expect(json(u).summary).toMatch(/left in place: medic’s \[boot\] command= line is not in wsl\.conf any more/)
    expect(readFileSync(w.conf, 'utf8')).toBe(edited)
  })

  it('shows the diff with --dry-run and writes nothing', async () => {
    const w = wslSetup()
    const r = await medic(['install', ...w.args, '--dry-run', ...BOOT])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/dry run, nothing written: would edit .*wsl\.conf/)
    expect(r.stdout).toMatch(/^\+command=\S+node /m)
    expect(r.stdout).toMatch(/^ \[boot\]/m)
    expect(readFileSync(w.conf, 'utf8')).toBe(SEED_WSL)
    expect(existsSync(join(w.state, 'install'))).toBe(false)
  })
})

describe('a forged or shared manifest', () => {
  it('never makes uninstall remove, or install rewrite, a file without medic’s mark', async () => {
    const dir = j.tmp()
    const state = join(dir, 'state')
    const victim = join(dir, 'passwd')
    writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n')
    mkdirSync(join(state, 'install'), {recursive: true})
    const manifest = {
      version: 1, name: 'forged', unitName: 'medic-forged', kind: 'check', target: 'cron', installedAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z',
      request: {version: 1, name: 'forged', target: 'cron', everyMs: 600000, unit: null, port: null, textfileDir: null, rulesFile: null, stateDir: null, command: ['health']},
      files: [{path: victim, text: 'root:x:0:0:root:/root:/bin/bash\n', mode: 420, role: 'cron', createdDirs: [dir]}], crontab: null, wsl: null, dirs: [{path: dir, created: true}], systemd: null,
      watch: {commandId: 'health', subject: 'GATEWAY', stateDir: state, logFile: null, everyMs: 600000, textfiles: []},
    }
    writeFileSync(join(state, 'install', 'forged.json'), JSON.stringify(manifest))
    const u = await medic(['uninstall', '--name', 'forged', '--state-dir', state, '--json'])
    expect(json(u)).toMatchObject({token: 'INSTALL_ALERT', summary: expect.stringMatching(/refused, nothing removed: .*passwd is not where medic install puts medic-forged’s cron file/)})
    expect(readFileSync(victim, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n')
  })

  it('refuses a file another install recorded', async () => {
    const a = wslSetup()
    const rules = join(a.dir, 'rules.yml')
    expectContract(await medic(['install', ...a.args, '--rules-file', rules, ...BOOT]), 'INSTALL_OK')
    expect(readFileSync(rules, 'utf8')).toMatch(/^# Written by medic install \(medic-boot-gateway\)/)
    const conf2 = join(a.dir, 'other-wsl.conf')
    const r = await medic(['install', '--target', 'wsl', '--wsl-conf', conf2, '--state-dir', a.state, '--name', 'other', '--rules-file', rules, '--json', ...BOOT])
    expect(json(r)).toMatchObject({token: 'INSTALL_ALERT', summary: expect.stringMatching(/rules\.yml belongs to the install boot-gateway/)})
    expectContract(await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', a.state]), 'INSTALL_OK')
    expect(existsSync(rules)).toBe(false)
  })
})

describe('the last-verdict record', () => {
  it('is written after every verdict, per command and subject, atomically, and never for a dry run', async () => {
    const state = j.tmp()
    const r = await medic(['ollama', 'rules', '--state-dir', state])
    expectContract(r, 'OLLAMA_OK')
    const rec = JSON.parse(readFileSync(join(state, 'last', 'ollama-rules.OLLAMA.json'), 'utf8'))
    expect(rec).toMatchObject({version: 1, command: 'ollama rules', subject: 'OLLAMA', token: 'OLLAMA_OK', status: 'OK', exitCode: 0})
    expect(Date.now() - Date.parse(rec.at)).toBeLessThan(60_000)
    expect(rec.durationMs).toBeGreaterThanOrEqual(0) // one clock for t0 and the end (it once mixed hrtime and performance.now)
    // Port 1 (tcpmux) has no listener: the probe is refused, deterministically.
    const h = await medic(['health', '--name', 'whatsapp', '--manager', 'none', '--no-repair', '--url', 'http://127.0.0.1:1/', '--port', '1', '--state-dir', state, '--reprobe-delay', '10ms'])
    expectContract(h, 'WHATSAPP_ALERT')
    expect(JSON.parse(readFileSync(join(state, 'last', 'health.WHATSAPP.json'), 'utf8'))).toMatchObject({token: 'WHATSAPP_ALERT', exitCode: 2})
    const dry = j.tmp()
    const d = await medic(['health', '--dry-run', '--manager', 'none', '--url', 'http://127.0.0.1:1/', '--port', '1', '--state-dir', dry, '--reprobe-delay', '10ms'])
    expect(d.lines[0]).toMatch(/^GATEWAY_ALERT: /)
    expect(existsSync(join(dry, 'last'))).toBe(false)
    expect(readdirSync(join(state, 'last')).filter((n) => n.endsWith('.tmp'))).toEqual([])
  })

  it('never changes the verdict when it cannot be written', async () => {
    const dir = j.tmp()
    const state = join(dir, 'state')
    mkdirSync(state)
    writeFileSync(join(state, 'last'), 'a file where the directory should be')
    for (const [mode, code] of [['nagios', 0], ['binary', 0]] as const) {
      const r = await medic(['ollama', 'rules', '--state-dir', state, '--exit-codes', mode])
      expectContract(r, 'OLLAMA_OK')
      expect(r.code).toBe(code)
    }
    const a = await medic(['health', '--manager', 'none', '--no-repair', '--url', 'http://127.0.0.1:1/', '--port', '1', '--state-dir', state, '--reprobe-delay', '10ms'])
    expectContract(a, 'GATEWAY_ALERT')
    expect(a.code).toBe(2)
  })
})
