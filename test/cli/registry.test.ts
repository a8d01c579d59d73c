import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {COMMANDS} from '../../src/cli/registry.js'
import {ROOT} from '../helpers/procs.js'

describe('the fast entry and oclif agree', () => {
  it('knows exactly the commands of the oclif manifest, with the same flags', async () => {
    const manifest = JSON.parse(readFileSync(`${ROOT}/oclif.manifest.json`, 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const ids = Object.keys(manifest.commands).filter((id) => id !== 'help').map((id) => id.replace(/:/g, ' '))
    expect(Object.keys(COMMANDS).sort()).toEqual(ids.sort())
    for (const id of ids) {
      const spec = await COMMANDS[id]()
      expect(spec.id).toBe(id)
      expect(Object.keys(manifest.commands[id.replace(/ /g, ':')].flags).sort()).toEqual(Object.keys(spec.flags).sort())
    }
  })
})
