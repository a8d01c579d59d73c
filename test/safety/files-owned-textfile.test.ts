import {linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FileError, replaceOwned} from '../../src/sys/file-gate.js'

// The file gate's whole-file replace for the textfiles medic owns (replaceOwned): only
// over what the judge calls medic's, never a hard link planted in its place.

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'medic-owned-'))
  dirs.push(d)
  return d
}
const MINE = '# mine'
const judge = (seen: (string | null)[]) => (first: string | null) => (seen.push(first), first === null || first === MINE ? null : 'not mine')

describe('replaceOwned', () => {
  it('creates a new file (the judge sees nothing there), replaces its own, leaves no temporary', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    const seen: (string | null)[] = []
    replaceOwned(f, `${MINE}\na 1\n`, judge(seen))
    replaceOwned(f, `${MINE}\na 2\n`, judge(seen))
    expect(seen).toEqual([null, MINE])
    expect(readFileSync(f, 'utf8')).toBe(`${MINE}\na 2\n`)
    expect(readdirSync(d)).toEqual(['x.prom'])
  })

  it('a file the judge refuses is left as it was, with a FileError naming it', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    writeFileSync(f, 'theirs\n')
    expect(() => replaceOwned(f, `${MINE}\n`, judge([]))).toThrow(FileError)
    expect(() => replaceOwned(f, `${MINE}\n`, judge([]))).toThrow(`${f}: not mine: left alone`)
    expect(readFileSync(f, 'utf8')).toBe('theirs\n')
    expect(readdirSync(d)).toEqual(['x.prom'])
  })

  it('medic\'s own text behind a planted hard link is refused (the other name would keep the old inode)', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    writeFileSync(f, `${MINE}\n`)
    linkSync(f, join(d, 'elsewhere'))
    expect(() => replaceOwned(f, `${MINE}\nnew 1\n`, judge([]))).toThrow(/2 links: refused/)
    expect(readFileSync(f, 'utf8')).toBe(`${MINE}\n`)
  })
})
