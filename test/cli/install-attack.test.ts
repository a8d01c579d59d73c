import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, lstatSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, Janitor, medic, type MedicResult} from '../helpers/procs.js'

/**
 * The attack on medic install / uninstall / verify / rules / dashboard (issue 10, 13; the
 * deploy attack's F2, F9, F13–F16), on the host: every target here writes only into the
 * test's temp dir (wsl.conf, a rules file) or nothing at all (print, docker). The systemd
 * and cron parts are in test/cli/install-systemd.test.ts.
 */
const j = new Janitor()
afterEach(() => j.cleanup())
const json = (r: MedicResult) => JSON.parse(r.stdout)
const BOOT = ['--', 'boot', '--name', 'gateway', '--port', '18789', '--', '/usr/bin/node', '/root/gateway/index.js']

function setup(): {dir: string; conf: string; state: string; rules: string; args: string[]} {
  const dir = j.tmp()
  const conf = join(dir, 'wsl.conf')
  writeFileSync(conf, '[boot]\nsystemd=true\n')
  const state = join(dir, 'state')
  const rules = join(dir, 'rules.yml')
  return {dir, conf, state, rules, args: ['--target', 'wsl', '--wsl-conf', conf, '--state-dir', state]}
}
const modeOf = (p: string) => statSync(p).mode & 0o7777

describe('F13: a dry run writes nothing at all', () => {
  it('install --dry-run and uninstall --dry-run with a fresh state dir leave it nonexistent', async () => {
    const w = setup()
    const fresh = join(w.dir, 'fresh-state')
    const r = await medic(['install', '--target', 'wsl', '--wsl-conf', w.conf, '--state-dir', fresh, '--rules-file', w.rules, '--textfile-dir', join(w.dir, 'tf'), '--dry-run', ...BOOT])
    expectContract(r, 'INSTALL_OK')
    expect(r.lines[0]).toMatch(/dry run, nothing written/)
    const u = await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', fresh, '--dry-run'])
    expectContract(u, 'INSTALL_OK')
    for (const p of [fresh, w.rules, join(w.dir, 'tf')]) expect(existsSync(p), p).toBe(false)
    expect(readFileSync(w.conf, 'utf8')).toBe('[boot]\nsystemd=true\n')
  })
})

describe('F15: --metrics-file where it means nothing', () => {
  it('is a usage error (UNKNOWN, exit 3 in both modes) for install, uninstall, rules and dashboard, and writes nothing', async () => {
    const w = setup()
    const prom = join(w.dir, 'x.prom')
    const cases = [
      ['INSTALL', ['install', ...w.args, '--metrics-file', prom, ...BOOT]],
      ['INSTALL', ['uninstall', '--name', 'x', '--state-dir', w.state, '--metrics-file', prom]],
      ['RULES', ['rules', '--metrics-file', prom]],
      ['DASHBOARD', ['dashboard', '--metrics-file', prom]],
    ] as const
    for (const [subject, args] of cases) {
      for (const mode of ['nagios', 'binary']) {
        const r = await medic([...args, '--exit-codes', mode])
        expectContract(r, `${subject}_UNKNOWN`)
        expect(r.code).toBe(3)
        expect(r.lines[0]).toMatch(/--metrics-file/)
      }
    }
    expect(existsSync(prom)).toBe(false)
    expect(readFileSync(w.conf, 'utf8')).toBe('[boot]\nsystemd=true\n')
  })
})

describe('F16: rules --file / dashboard --file never overwrite what medic did not write', () => {
  for (const [cmd, subject] of [['rules', 'RULES'], ['dashboard', 'DASHBOARD']] as const) {
    it(`${cmd} --file: refuses a file it did not write and a symlink (UNKNOWN naming it); rewrites its own earlier output`, async () => {
      const dir = j.tmp()
      const theirs = join(dir, 'theirs')
      writeFileSync(theirs, 'precious: true\n')
      const r = await medic([cmd, '--file', theirs])
      expectContract(r, `${subject}_UNKNOWN`)
      expect(r.code).toBe(3)
      expect(r.lines[0]).toContain(theirs)
      expect(readFileSync(theirs, 'utf8')).toBe('precious: true\n')

      const victim = join(dir, 'victim')
      writeFileSync(victim, 'precious: true\n')
      const link = join(dir, 'link')
      symlinkSync(victim, link)
      const s = await medic([cmd, '--file', link, '--json'])
      expect(json(s)).toMatchObject({token: `${subject}_UNKNOWN`, exitCode: 3, summary: expect.stringMatching(/symlink/)})
      expect(lstatSync(link).isSymbolicLink()).toBe(true)
      expect(readFileSync(victim, 'utf8')).toBe('precious: true\n')
      // A dangling symlink is not followed either.
      const dangling = join(dir, 'dangling')
      symlinkSync(join(dir, 'nowhere'), dangling)
      expectContract(await medic([cmd, '--file', dangling]), `${subject}_UNKNOWN`)
      expect(existsSync(join(dir, 'nowhere'))).toBe(false)

      const mine = join(dir, 'mine')
      expectContract(await medic([cmd, '--file', mine]), `${subject}_OK`)
      const first = readFileSync(mine, 'utf8')
      expect(first.length).toBeGreaterThan(100)
      writeFileSync(mine, first.replace(/\n$/, '\n\n')) // its own output, touched: still recognisably medic's
      expectContract(await medic([cmd, '--file', mine]), `${subject}_OK`)
      expect(readFileSync(mine, 'utf8')).toBe(first)
    })
  }
})
