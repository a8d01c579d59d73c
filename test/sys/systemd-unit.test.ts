import {existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {crashDropIn} from '../../src/core/drill.js'
import {makeSystemdUnits} from '../../src/sys/systemd-unit.js'
import {Janitor} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())
const MINE = crashDropIn('crash-loop', 42, '4242')

describe("drill's runtime drop-in, through the file gate", () => {
  it('writes it beside nothing and removes it with the folder it created', () => {
    const root = j.tmp()
    const u = makeSystemdUnits(root)
    expect(u.writeDropIn('gw', '90-medic-drill.conf', MINE)).toEqual({ok: true, detail: `wrote ${root}/gw.service.d/90-medic-drill.conf`})
    expect(readFileSync(join(root, 'gw.service.d/90-medic-drill.conf'), 'utf8')).toBe(MINE)
    expect(u.writeDropIn('gw', '90-medic-drill.conf', MINE)).toMatchObject({ok: false, detail: expect.stringMatching(/already there/)})
    expect(u.removeDropIn('gw', '90-medic-drill.conf')).toMatchObject({ok: true, removed: true})
    expect(existsSync(join(root, 'gw.service.d'))).toBe(false)
    expect(u.removeDropIn('gw', '90-medic-drill.conf')).toMatchObject({ok: true, removed: false})
  })

  it('never writes through a planted symlink, nor removes it or its target', () => {
    const root = j.tmp()
    mkdirSync(join(root, 'gw.service.d'))
    const victim = join(j.tmp(), 'victim')
    writeFileSync(victim, `${MINE}keep me\n`)
    symlinkSync(victim, join(root, 'gw.service.d/90-medic-drill.conf'))
    const u = makeSystemdUnits(root)
    expect(u.writeDropIn('gw', '90-medic-drill.conf', MINE)).toMatchObject({ok: false, detail: expect.stringMatching(/exists and medic did not write it/)})
    expect(u.removeDropIn('gw', '90-medic-drill.conf')).toMatchObject({ok: true, removed: false, detail: expect.stringMatching(/left alone/)})
    expect(readFileSync(victim, 'utf8')).toBe(`${MINE}keep me\n`)
    expect(existsSync(join(root, 'gw.service.d/90-medic-drill.conf'))).toBe(true)
  })

  it("leaves someone else's file of that name, and the folder it did not create", () => {
    const root = j.tmp()
    mkdirSync(join(root, 'gw.service.d'))
    writeFileSync(join(root, 'gw.service.d/90-medic-drill.conf'), '[Service]\nExecStartPre=/bin/true\n')
    const u = makeSystemdUnits(root)
    expect(u.writeDropIn('gw', '90-medic-drill.conf', MINE).ok).toBe(false)
    expect(u.removeDropIn('gw', '90-medic-drill.conf').removed).toBe(false)
    expect(readFileSync(join(root, 'gw.service.d/90-medic-drill.conf'), 'utf8')).toBe('[Service]\nExecStartPre=/bin/true\n')
  })
})

describe('removeDropIn with the exact text', () => {
  it('removes only a file of exactly that text; reads never follow a symlink', () => {
    const root = j.tmp()
    const u = makeSystemdUnits(root)
    mkdirSync(join(root, 'gw.service.d'))
    const path = join(root, 'gw.service.d/90-medic-drill.conf')
    writeFileSync(path, `${MINE}Environment=X=1\n`)
    expect(u.readDropIn('gw', '90-medic-drill.conf')).toBe(`${MINE}Environment=X=1\n`)
    expect(u.removeDropIn('gw', '90-medic-drill.conf', MINE)).toMatchObject({ok: true, removed: false, detail: expect.stringMatching(/not its exact text\); left alone/)})
    expect(existsSync(path)).toBe(true)
    writeFileSync(path, MINE)
    expect(u.dropInPath('gw', '90-medic-drill.conf')).toBe(path)
    expect(u.removeDropIn('gw', '90-medic-drill.conf', MINE)).toMatchObject({ok: true, removed: true})
    expect(existsSync(path)).toBe(false)
    symlinkSync(join(j.tmp(), 'x'), path)
    expect(u.readDropIn('gw', '90-medic-drill.conf')).toBeNull()
  })
})
