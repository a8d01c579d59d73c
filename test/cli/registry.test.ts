import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {COMMANDS, TOPIC_SUBJECTS} from '../../src/cli/registry.js'
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

  it('gives every topic a subject here and a description of its own in package.json', async () => {
    const pjson = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as {oclif: {topics: Record<string, {description: string}>}}
    const topics = [...new Set(Object.keys(COMMANDS).filter((id) => id.includes(' ')).map((id) => id.split(' ')[0]))].sort()
    expect(Object.keys(TOPIC_SUBJECTS).sort()).toEqual(topics)
    expect(Object.keys(pjson.oclif.topics).sort()).toEqual(topics)
    const summaries = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).summary))
    for (const t of topics) expect(summaries).not.toContain(pjson.oclif.topics[t].description)
  })
})
