import {chownSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FileError, writeOwned} from '../../src/sys/file-gate.js'

// The file gate's whole-file replace for the textfiles medic owns (writeOwned): only
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
const judge = (seen: (string | null)[]) => (text: string | null) => {
  const first = text === null ? null : text.split('\n', 1)[0]
  seen.push(first)
  return first === null || first === MINE ? null : 'not mine'
}

describe('writeOwned', () => {
  it('creates a new file (the judge sees nothing there), replaces its own, leaves no temporary', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    const seen: (string | null)[] = []
    writeOwned(f, `${MINE}\na 1\n`, 0o644, judge(seen))
    writeOwned(f, `${MINE}\na 2\n`, 0o644, judge(seen))
    expect(seen).toEqual([null, MINE])
    expect(readFileSync(f, 'utf8')).toBe(`${MINE}\na 2\n`)
    expect(readdirSync(d)).toEqual(['x.prom'])
  })

  it('a file the judge refuses is left as it was, with a FileError naming it', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    writeFileSync(f, 'theirs\n')
    expect(() => writeOwned(f, `${MINE}\n`, 0o644, judge([]))).toThrow(FileError)
    expect(() => writeOwned(f, `${MINE}\n`, 0o644, judge([]))).toThrow(`${f}: not mine`)
    expect(readFileSync(f, 'utf8')).toBe('theirs\n')
    expect(readdirSync(d)).toEqual(['x.prom'])
  })

  it('medic\'s own text behind a planted hard link is refused (the other name would keep the old inode)', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    writeFileSync(f, `${MINE}\n`)
    linkSync(f, join(d, 'elsewhere'))
    expect(() => writeOwned(f, `${MINE}\nnew 1\n`, 0o644, judge([]))).toThrow(/2 links: refused/)
    expect(readFileSync(f, 'utf8')).toBe(`${MINE}\n`)
  })

  // chown to another user needs root (CI runs as root).
  it.skipIf(process.geteuid?.() !== 0)('a file of another owner is refused whatever its text says (medic\'s header forged), left as it was (needs root to chown)', () => {
    const d = tmp()
    const f = join(d, 'x.prom')
    writeFileSync(f, `${MINE}\nforged 1\n`)
    chownSync(f, 65534, 65534)
    const seen: (string | null)[] = []
    expect(() => writeOwned(f, `${MINE}\nnew 1\n`, 0o644, judge(seen))).toThrow(/owned by uid 65534, not medic's user/)
    expect(seen).toEqual([]) // refused before the judge looked
    expect(readFileSync(f, 'utf8')).toBe(`${MINE}\nforged 1\n`)
    expect(readdirSync(d)).toEqual(['x.prom'])
  })

  it('the judge sees the whole text, not only line 1 (rules/dashboard --file compare it all)', () => {
    const d = tmp()
    const f = join(d, 'doc')
    const big = `${'x'.repeat(4000)}\nlast\n`
    writeFileSync(f, big)
    const texts: (string | null)[] = []
    writeOwned(f, 'new\n', 0o644, (t) => (texts.push(t), t === big ? null : 'not the same'))
    expect(texts).toEqual([big])
    expect(readFileSync(f, 'utf8')).toBe('new\n')
  })
})
