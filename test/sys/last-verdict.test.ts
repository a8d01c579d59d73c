import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {readLastVerdict, writeLastVerdict} from '../../src/sys/last-verdict.js'
import {StateLayout} from '../../src/sys/state-layout.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'medic-last-'))
  dirs.push(d)
  return join(d, 'state')
}

// The record is renamed into place without an fsync (docs/startup.md): what a power cut
// can leave of it — nothing, an empty file, half a JSON object — must read as no record,
// never as a verdict.
describe('last-verdict record', () => {
  it('reads back what a run wrote', () => {
    const dir = stateDir()
    writeLastVerdict(dir, 'cleanup', {subject: 'PORT', status: 'OK', summary: 'port 1 is free', checks: [], actions: []}, new Date(0), 12.4)
    expect(readLastVerdict(dir, 'cleanup', 'PORT')).toMatchObject({token: 'PORT_OK', status: 'OK', exitCode: 0, durationMs: 12, at: '1970-01-01T00:00:00.000Z'})
  })

  it.each([['an empty file', ''], ['a torn one', '{"version":1,"command":"cleanup","subject":"PORT","tok'], ['zeros', '\0\0\0\0']])('reads %s as no record', (_what, text) => {
    const dir = stateDir()
    const path = new StateLayout(dir).lastVerdict('cleanup', 'PORT')
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, text)
    expect(readLastVerdict(dir, 'cleanup', 'PORT')).toBeNull()
  })
})
