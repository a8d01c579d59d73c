import {chmodSync, chownSync, existsSync, lchownSync, linkSync, unlinkSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, lstatSync, writeFileSync} from 'node:fs'
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

      // Its own output behind a second hard link, or owned by another user: refused, left as it was.
      linkSync(mine, join(dir, 'elsewhere'))
      const h = await medic([cmd, '--file', mine])
      expectContract(h, `${subject}_UNKNOWN`)
      expect(h.lines[0]).toMatch(/2 links: refused/)
      unlinkSync(join(dir, 'elsewhere'))
      if (process.geteuid?.() === 0) { // chown needs root (CI runs as root)
        chownSync(mine, 65534, 65534)
        const o = await medic([cmd, '--file', mine])
        expectContract(o, `${subject}_UNKNOWN`)
        expect(o.lines[0]).toMatch(/owned by uid 65534/)
        expect(readFileSync(mine, 'utf8')).toBe(first)
      }
    })
  }
})

describe('F14: an output path of install onto its own files', () => {
  it('is UNKNOWN and writes nothing: --rules-file onto the manifest, wsl.conf or the log; --target print onto a unit', async () => {
    const w = setup()
    const manifest = join(w.state, 'install', 'boot-gateway.json')
    const log = join(w.dir, 'gw.log')
    const cases: string[][] = [
      ['install', ...w.args, '--rules-file', manifest, ...BOOT],
      ['install', ...w.args, '--rules-file', w.conf, ...BOOT],
      ['install', ...w.args, '--rules-file', log, '--', 'boot', '--name', 'gateway', '--port', '18789', '--log-file', log, '--', '/usr/bin/node', '/root/gateway/index.js'],
      ['install', ...w.args, '--rules-file', join(w.state, 'last', 'install', 'boot-gateway.json'), ...BOOT],
      ['install', '--target', 'print', '--every', '5m', '--rules-file', '/etc/systemd/system/medic-health.timer', '--', 'health'],
      ['install', '--target', 'print', '--every', '5m', '--rules-file', '/etc/systemd/system/other.service', '--', 'health'],
      // A path uninstall could not trust again: not plain.
      ['install', ...w.args, '--rules-file', `${w.dir}/sub/../rules.yml`, ...BOOT],
    ]
    for (const args of cases) {
      const r = await medic(args)
      expectContract(r, 'INSTALL_UNKNOWN')
      expect(r.code).toBe(3)
      expect(r.lines[0]).toMatch(/--rules-file/)
    }
    expect(existsSync(w.state)).toBe(false)
    expect(existsSync(log)).toBe(false)
    expect(readFileSync(w.conf, 'utf8')).toBe('[boot]\nsystemd=true\n')
  })
})

describe('F9: what install prints is what it would install, byte for byte', () => {
  it('refuses (UNKNOWN, saying why) to print a line holding a token-like word, rather than print it changed', async () => {
    for (const target of ['docker', 'print']) {
      for (const mode of ['nagios', 'binary']) {
        const r = await medic(['install', '--target', target, '--exit-codes', mode, '--', 'health', '--url', 'http://127.0.0.1:1/X_OK'])
        expectContract(r, 'INSTALL_UNKNOWN')
        expect(r.code).toBe(3)
        expect(r.lines[0]).toMatch(/cannot print \S*X.OK byte for byte: .*status token/)
        expect(r.lines).toHaveLength(1) // no copy-ready line that differs
      }
      const jr = json(await medic(['install', '--target', target, '--json', '--', 'health', '--url', 'http://127.0.0.1:1/X_OK']))
      expect(jr).toMatchObject({token: 'INSTALL_UNKNOWN', exitCode: 3})
    }
    // Without such a word, the line is printed exactly.
    const ok = await medic(['install', '--target', 'docker', '--', 'health', '--url', 'http://127.0.0.1:1/X-OK'])
    expectContract(ok, 'INSTALL_OK')
    expect(ok.lines[1]).toContain('"http://127.0.0.1:1/X-OK"')
  })

  it('a --dry-run diff that shows a token-like word changed says so', async () => {
    const w = setup()
    const r = await medic(['install', ...w.args, '--dry-run', '--', 'boot', '--name', 'gateway', '--port', '18789', '--', '/usr/bin/node', 'X_OK'])
    expectContract(r, 'INSTALL_OK')
    expect(r.stdout).toMatch(/^\+command=.* X-OK$/m)
    expect(r.stdout).toMatch(/status token.*shown with - for _/)
  })
})

describe('F2: mode and owner are part of what medic wrote', () => {
  it('verify names a world-writable or foreign-owned file; install fixes it, never calls it the same', async () => {
    const w = setup()
    expectContract(await medic(['install', ...w.args, '--rules-file', w.rules, ...BOOT]), 'INSTALL_OK')
    expect(modeOf(w.rules)).toBe(0o644)
    expectContract(await medic(['verify', '--state-dir', w.state]), 'INSTALL_OK')

    chmodSync(w.rules, 0o666)
    const v = await medic(['verify', '--state-dir', w.state])
    expectContract(v, 'INSTALL_ALERT')
    expect(v.lines[0]).toContain(`${w.rules} has mode 0666`)
    const again = await medic(['install', ...w.args, '--rules-file', w.rules, ...BOOT])
    expectContract(again, 'INSTALL_OK')
    expect(again.lines[0]).not.toMatch(/already installed/)
    expect(modeOf(w.rules)).toBe(0o644)
    expectContract(await medic(['verify', '--state-dir', w.state]), 'INSTALL_OK')

    if (process.getuid?.() === 0) {
      chownSync(w.rules, 65534, 65534)
      const o = await medic(['verify', '--state-dir', w.state, '--json'])
      expect(json(o)).toMatchObject({token: 'INSTALL_ALERT', summary: expect.stringContaining(`${w.rules} is owned by uid 65534`)})
      const fix = await medic(['install', ...w.args, '--rules-file', w.rules, ...BOOT])
      expectContract(fix, 'INSTALL_OK')
      expect(fix.lines[0]).not.toMatch(/already installed/)
      expect(statSync(w.rules).uid).toBe(0)
      expectContract(await medic(['verify', '--state-dir', w.state]), 'INSTALL_OK')
    } else console.log('skipped the foreign-owner half: chown needs root')
    expectContract(await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state]), 'INSTALL_OK')
    expect(existsSync(w.rules)).toBe(false)
  })
})

describe('F8: uninstall removes only medic’s own names and content', () => {
  it('refuses a manifest naming a file outside medic’s pattern (a path with .., another install’s file), removing nothing', async () => {
    const w = setup()
    expectContract(await medic(['install', ...w.args, '--rules-file', w.rules, ...BOOT]), 'INSTALL_OK')
    const text = readFileSync(w.rules, 'utf8')
    const m = JSON.parse(readFileSync(join(w.state, 'install', 'boot-gateway.json'), 'utf8'))
    mkdirSync(join(w.dir, 'sub'))
    const forged = {...m, name: 'forged', unitName: 'medic-forged', wsl: null, dirs: [], request: {...m.request, name: 'forged'}}
    for (const files of [
      [{...m.files[0], path: w.rules}], // another install's file, its exact bytes
      [{...m.files[0], path: `${w.dir}/sub/../rules.yml`}],
    ]) {
      writeFileSync(join(w.state, 'install', 'forged.json'), JSON.stringify({...forged, files}))
      const u = await medic(['uninstall', '--name', 'forged', '--state-dir', w.state, '--json'])
      expect(json(u).token).toBe('INSTALL_ALERT')
      expect(json(u).summary).toMatch(/refused, nothing removed/)
      expect(readFileSync(w.rules, 'utf8')).toBe(text)
      expect(existsSync(join(w.state, 'install', 'forged.json'))).toBe(true)
    }
  })
})

describe('attack-fixes A1: install writes its files through the file gate (no other user’s symlink on the path)', () => {
  it('--rules-file under another user’s symlink in a sticky folder is refused, nothing written where it points', async () => {
    const w = setup()
    const sticky = join(w.dir, 'sticky')
    mkdirSync(sticky, {mode: 0o1777})
    chmodSync(sticky, 0o1777)
    const victim = join(w.dir, 'victim')
    mkdirSync(victim)
    const lnk = join(sticky, 'lnk')
    symlinkSync(victim, lnk)
    ;(await import('node:fs')).lchownSync(lnk, 65534, 65534)
    const r = await medic(['install', ...w.args, '--rules-file', join(lnk, 'medic.yml'), ...BOOT])
    // rules --file refuses the same path (file gate §3.5); install must too.
    const rr = await medic(['rules', '--file', join(lnk, 'r.yml')])
    expectContract(rr, 'RULES_UNKNOWN')
    expectContract(r, 'INSTALL_UNKNOWN')
    expect(existsSync(join(victim, 'medic.yml'))).toBe(false)
  })
})

describe('attack-fixes A1: every path install and uninstall write or remove goes through the file gate', () => {
  /** A sticky folder with nobody's symlink `lnk` → `victim` (root's folder). */
  function sticky() {
    const w = setup()
    const s = join(w.dir, 'sticky')
    mkdirSync(s)
    chmodSync(s, 0o1777)
    const victim = join(w.dir, 'victim')
    mkdirSync(victim)
    const lnk = join(s, 'lnk')
    symlinkSync(victim, lnk)
    lchownSync(lnk, 65534, 65534)
    return {...w, sticky: s, victim, lnk}
  }

  it('--wsl-conf and --textfile-dir under another user’s symlink: UNKNOWN exit 3 naming the flag, nothing written', async () => {
    const w = sticky()
    writeFileSync(join(w.victim, 'wsl.conf'), '[boot]\nsystemd=true\n')
    const r = await medic(['install', '--target', 'wsl', '--wsl-conf', join(w.lnk, 'wsl.conf'), '--state-dir', w.state, ...BOOT])
    expectContract(r, 'INSTALL_UNKNOWN')
    expect(r.code).toBe(3)
    expect(r.lines[0]).toMatch(/--wsl-conf .*owned by uid 65534/)
    expect(readFileSync(join(w.victim, 'wsl.conf'), 'utf8')).toBe('[boot]\nsystemd=true\n')
    // --textfile-dir is refused before anything (even a dry run: the refusal is of the path itself).
    const t = await medic(['install', '--target', 'cron', '--every', '5m', '--dry-run', '--state-dir', w.state, '--textfile-dir', join(w.lnk, 'tf'), '--', 'ollama', 'metrics', '--url', 'http://127.0.0.1:1'])
    expectContract(t, 'INSTALL_UNKNOWN')
    expect(t.lines[0]).toMatch(/--textfile-dir .*owned by uid 65534/)
    expect(existsSync(join(w.victim, 'tf'))).toBe(false)
    expect(existsSync(w.state)).toBe(false)
  })

  it('uninstall does not remove through a folder another user swapped for a symlink after install', async () => {
    const w = sticky()
    const sub = join(w.sticky, 'sub')
    mkdirSync(sub)
    const rules = join(sub, 'medic.yml')
    expectContract(await medic(['install', ...w.args, '--rules-file', rules, ...BOOT]), 'INSTALL_OK')
    const text = readFileSync(rules, 'utf8')
    // "nobody" moves sub away and plants its own symlink there, to a folder holding medic's exact text.
    renameSync(sub, join(w.sticky, 'moved'))
    writeFileSync(join(w.victim, 'medic.yml'), text)
    symlinkSync(w.victim, sub)
    lchownSync(sub, 65534, 65534)
    const u = await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state])
    expectContract(u, 'INSTALL_ALERT')
    expect(u.lines[0]).toMatch(/left in place: .*owned by uid 65534/)
    expect(readFileSync(join(w.victim, 'medic.yml'), 'utf8')).toBe(text)
  })

  it('uninstall removes no folder through another user’s symlink (the folders install created)', async () => {
    const w = sticky()
    const sub = join(w.sticky, 'sub')
    mkdirSync(sub)
    expectContract(await medic(['install', ...w.args, '--rules-file', join(sub, 'made', 'medic.yml'), ...BOOT]), 'INSTALL_OK')
    renameSync(sub, join(w.sticky, 'moved'))
    mkdirSync(join(w.victim, 'made')) // empty: rmdir would take it
    symlinkSync(w.victim, sub)
    lchownSync(sub, 65534, 65534)
    const u = await medic(['uninstall', '--name', 'boot-gateway', '--state-dir', w.state])
    expectContract(u, 'INSTALL_OK') // its file is gone from the path as given; the folder there is not its own
    expect(statSync(join(w.victim, 'made')).isDirectory()).toBe(true)
  })

  it('F14 compares where a path really leads: --rules-file through a symlink into medic’s records is UNKNOWN', async () => {
    const w = setup()
    mkdirSync(join(w.state, 'install'), {recursive: true})
    const rl = join(w.dir, 'rl')
    symlinkSync(join(w.state, 'install'), rl) // root's own symlink: the gate allows it, the clash check must not
    const r = await medic(['install', ...w.args, '--rules-file', join(rl, 'boot-gateway.json'), ...BOOT])
    expectContract(r, 'INSTALL_UNKNOWN')
    expect(r.code).toBe(3)
    expect(r.lines[0]).toMatch(/--rules-file .*medic’s own records/)
    expect(existsSync(join(w.state, 'install', 'boot-gateway.json'))).toBe(false)
  })
})
