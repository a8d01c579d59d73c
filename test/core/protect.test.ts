import {describe, expect, it} from 'vitest'
import {parseProtectedEntry, refusalFor, type ProtectionContext, type ProtectedEntry} from '../../src/core/protect.js'

const P = (pid: number, comm = 'node', cmdline = ['node', 'server.js'], startTime = `s${pid}`) => ({pid, comm, cmdline, startTime})
const entry = (pid: number, startTime = `s${pid}`): ProtectedEntry => ({version: 1, pid, startTime, name: 'job', cmdline: [], descendants: true, registeredAt: ''})
const ctx = (over: Partial<ProtectionContext> = {}): ProtectionContext => ({selfPid: 100, ancestors: new Set([50, 1]), protect: [], match: null, registry: [], ...over})

describe('who is never signalled', () => {
  it('refuses pid 1 and below, itself and its ancestors', () => {
    expect(refusalFor(P(1), [], ctx())?.kind).toBe('init')
    expect(refusalFor(P(0), [], ctx())?.kind).toBe('init')
    expect(refusalFor(P(100), [], ctx())?.kind).toBe('self')
    expect(refusalFor(P(50), [], ctx())?.kind).toBe('ancestor')
    expect(refusalFor(P(200), [], ctx())).toBeNull()
  })

  it('refuses a registered job and its descendants, by identity', () => {
    const c = ctx({registry: [entry(300)]})
    expect(refusalFor(P(300), [], c)?.kind).toBe('registered')
    expect(refusalFor(P(301), [P(300)], c)?.reason).toMatch(/descendant of run-dev-safe job/)
    // Same pid, another start time: the registered job is gone, the pid was reused.
    expect(refusalFor(P(300, 'node', [], 'other'), [], c)).toBeNull()
  })

  it('applies --protect to comm and cmdline, and --match as an allowlist', () => {
    expect(refusalFor(P(7, 'python3', ['python3', 'train.py']), [], ctx({protect: [/train\.py/]}))?.kind).toBe('protected')
    expect(refusalFor(P(7, 'python3', ['python3', 'x.py']), [], ctx({match: /node|gateway/}))?.kind).toBe('unmatched')
    expect(refusalFor(P(7), [], ctx({match: /node/}))).toBeNull()
  })

  it('reads registry files of format v1 and rejects others', () => {
    expect(parseProtectedEntry(JSON.stringify(entry(5)))).toMatchObject({pid: 5, startTime: 's5', descendants: true})
    expect(parseProtectedEntry('{"version":2,"pid":5,"startTime":"1"}')).toBeNull()
    expect(parseProtectedEntry('not json')).toBeNull()
  })
})
