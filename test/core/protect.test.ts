import {describe, expect, it} from 'vitest'
import {entryCounts, groupIsJobs, parseProtectedEntry, pidFileTrust, refusalFor, type LiveEntry, type ProcFacts, type ProtectionContext, pidFileVouched} from '../../src/core/protect.js'

const P = (pid: number, comm = 'node', cmdline = ['node', 'server.js'], startTime = `s${pid}`, more: Partial<ProcFacts> = {}): ProcFacts => ({pid, comm, cmdline, startTime, ...more})
const entry = (pid: number, startTime = `s${pid}`, more: Partial<LiveEntry> = {}): LiveEntry => ({version: 1, pid, startTime, name: 'job', cmdline: [], descendants: true, registeredAt: '', fileUid: 0, procUid: 0, sessionLive: false, source: '', ...more})
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
    expect(refusalFor(P(301), [P(300)], c)?.reason).toMatch(/descendant of run-dev-safe \(job "job"\), pid 300/)
    // Same pid, another start time: the registered job is gone, the pid was reused.
    expect(refusalFor(P(300, 'node', [], 'other'), [], c)).toBeNull()
  })

  it('applies --protect to comm and cmdline, and --match as an allowlist', () => {
    expect(refusalFor(P(7, 'python3', ['python3', 'train.py']), [], ctx({protect: [/train\.py/]}))?.kind).toBe('protected')
    expect(refusalFor(P(7, 'python3', ['python3', 'x.py']), [], ctx({match: /node|gateway/}))?.kind).toBe('unmatched')
    expect(refusalFor(P(7), [], ctx({match: /node/}))).toBeNull()
  })

  it('recognises a descendant that left the tree by its marks: environment, session, cgroup', () => {
    const e = entry(300, '3000', {mark: '300-3000', session: {sid: 300, startTime: '3000'}, sessionLive: true, cgroup: '/medic-protect-300-3000'})
    const c = ctx({registry: [e]})
    expect(refusalFor(P(400, 'node', [], 's', {mark: '300-3000', uid: 0}), [P(1)], c)?.reason).toMatch(/carries the MEDIC_PROTECTED mark/)
    expect(refusalFor(P(401, 'node', [], 's', {sid: 300}), [P(1)], c)?.reason).toMatch(/in the session of/)
    expect(refusalFor(P(402, 'node', [], 's', {cgroup: '/medic-protect-300-3000/sub'}), [P(1)], c)?.reason).toMatch(/in the cgroup of/)
    // A look-alike cgroup name, a mark of another job, a session whose leader is gone: nothing.
    expect(refusalFor(P(403, 'node', [], 's', {cgroup: '/medic-protect-300-30001'}), [], c)).toBeNull()
    expect(refusalFor(P(404, 'node', [], 's', {mark: '300-2999'}), [], c)).toBeNull()
    expect(refusalFor(P(405, 'node', [], 's', {sid: 300}), [], ctx({registry: [{...e, sessionLive: false}]}))).toBeNull()
  })

  it('marks that can be faked protect no one their author could not have registered', () => {
    const mine = entry(300, '3000', {mark: '300-3000', fileUid: 1000, procUid: 1000, cgroup: '/', session: {sid: 77, startTime: '1'}, sessionLive: false})
    expect(refusalFor(P(400, 'node', [], 's', {mark: '300-3000', uid: 1000}), [], ctx({registry: [mine]}))?.kind).toBe('registered')
    // root's gateway with the mark in its environment: not protected by a user's entry
    expect(refusalFor(P(401, 'node', [], 's', {mark: '300-3000', uid: 0}), [], ctx({registry: [mine]}))).toBeNull()
    // a user's entry naming any cgroup ("/": everything) or a session it does not lead protects nothing
    expect(refusalFor(P(402, 'node', [], 's', {cgroup: '/system.slice/gateway.service', uid: 0, sid: 77}), [], ctx({registry: [mine]}))).toBeNull()
    // a user copying a root job's (public) mark into its own process: not protected either
    const roots = entry(500, '5000', {mark: '500-5000'})
    expect(refusalFor(P(403, 'node', [], 's', {mark: '500-5000', uid: 1000}), [], ctx({registry: [roots]}))).toBeNull()
    expect(entryCounts(0, 1000)).toBe(true)
    expect(entryCounts(1000, 1000)).toBe(true)
    expect(entryCounts(1000, 0)).toBe(false)
  })

  it("a registered pattern (protect add --pattern): root's protects every match; a user's, that user's processes in that user's own runs, its regex never run elsewhere", () => {
    const train = (uid: number) => P(7, 'python3', ['python3', 'train.py'], 's7', {uid})
    const byRoot = {patterns: [{re: /train\.py/, fileUid: 0, source: '/run/medic/protected/pattern-0-x.json'}]}
    expect(refusalFor(train(1000), [], ctx({...byRoot, selfUid: 0}))?.reason).toBe('matches the protected pattern train\\.py (/run/medic/protected/pattern-0-x.json)')
    expect(refusalFor(train(1000), [], ctx({...byRoot, selfUid: 1000}))?.kind).toBe('protected')
    const byUser = {patterns: [{re: /train\.py/, fileUid: 1000, source: 'p'}]}
    expect(refusalFor(train(1000), [], ctx({...byUser, selfUid: 1000}))?.kind).toBe('protected')
    expect(refusalFor(train(0), [], ctx({...byUser, selfUid: 1000}))).toBeNull() // root's process: not the user's to protect
    expect(refusalFor(P(7, 'python3', ['python3', 'train.py']), [], ctx({...byUser, selfUid: 1000}))).toBeNull() // uid unknown
    // In root's run (or any other user's), a user's regex is never evaluated: it could backtrack for ever.
    const trap = {patterns: [{re: {source: '(a+)+$', test: () => expect.fail('a user\'s regex ran in root\'s medic')} as unknown as RegExp, fileUid: 1000, source: 'p'}]}
    expect(refusalFor(train(1000), [], ctx({...trap, selfUid: 0}))).toBeNull()
    expect(refusalFor(train(1000), [], ctx({...trap, selfUid: 1001}))).toBeNull()
    // an owner signalling its own job: patterns do not apply
    expect(refusalFor(train(0), [], ctx({...byRoot, selfUid: 0}), {ownKeys: new Set()})).toBeNull()
  })

  it('an owner signalling its own job: patterns and its own registration do not apply, anything else does', () => {
    const own = entry(300, '3000', {mark: '300-3000'})
    const other = entry(500, '5000')
    const c = ctx({registry: [own, other], protect: [/node/], policyError: 'bad yaml'})
    const owner = {ownKeys: new Set(['300-3000'])}
    expect(refusalFor(P(301, 'node', [], 's', {mark: '300-3000'}), [P(300, 'node', [], '3000')], c, owner)).toBeNull()
    expect(refusalFor(P(501), [P(500, 'node', [], '5000')], c, owner)?.kind).toBe('registered')
    expect(refusalFor(P(100), [], c, owner)?.kind).toBe('self')
    expect(refusalFor(P(1), [], c, owner)?.kind).toBe('init')
    // Without the capability, a broken config refuses everything.
    expect(refusalFor(P(600), [], ctx({policyError: 'bad yaml'}))?.kind).toBe('policy')
  })

  it('trusts a pid file only when its process started before the file was written', () => {
    const base = {clkTck: 100, wallNowMs: 1_000_000_000, uptimeMs: 500_000}
    // boot at wall 999_500_000; started at tick 1000 = 10 s after boot = wall 999_510_000
    expect(pidFileTrust({...base, startTicks: 1000, fileMtimeMs: 999_510_005}).trusted).toBe(true)
    expect(pidFileTrust({...base, startTicks: 1000, fileMtimeMs: 999_509_990}).trusted).toBe(true) // within a tick + the clocks' resolution
    expect(pidFileTrust({...base, startTicks: 1000, fileMtimeMs: 999_509_900}).trusted).toBe(false)
    expect(pidFileTrust({...base, startTicks: 1000, fileMtimeMs: 999_000_000}).trusted).toBe(false)
  })

  it("a group or session id is the job's only while that pid is the job or nobody", () => {
    expect(groupIsJobs({startTime: '10'}, null)).toBe(true)
    expect(groupIsJobs({startTime: '10'}, {startTime: '10'})).toBe(true)
    expect(groupIsJobs({startTime: '10'}, {startTime: '99'})).toBe(false)
  })

  it('reads registry files of format v1 and rejects others', () => {
    expect(parseProtectedEntry(JSON.stringify(entry(5)))).toMatchObject({pid: 5, startTime: 's5', descendants: true, mark: null, session: null, cgroup: null})
    expect(parseProtectedEntry(JSON.stringify({...entry(5), mark: '5-9', session: {sid: 5, startTime: '9'}, cgroup: '/x'}))).toMatchObject({mark: '5-9', session: {sid: 5, startTime: '9'}, cgroup: '/x'})
    expect(parseProtectedEntry(JSON.stringify({...entry(5), mark: '$(x)', session: {sid: 1, startTime: '9'}, cgroup: 'rel'}))).toMatchObject({mark: null, session: null, cgroup: null})
    expect(parseProtectedEntry('{"version":2,"pid":5,"startTime":"1"}')).toBeNull()
    expect(parseProtectedEntry('not json')).toBeNull()
  })
})

describe('pidFileVouched: a pid file names the service only by what medic can see', () => {
  const base = {cmdline: ['bash'], comm: 'bash', startCmd: ['/usr/bin/node', 'server.js'], port: 8080}
  it('the holder, its parent or grandparent (a wrapper) — never a farther ancestor such as the login shell', () => {
    const chain = [[500, 400, 300, 200, 1]] // holder 500, parent 400, grandparent 300, login shell 200
    expect(pidFileVouched({...base, pid: 500, holderChains: chain}).ok).toBe(true)
    expect(pidFileVouched({...base, pid: 300, holderChains: chain}).ok).toBe(true)
    expect(pidFileVouched({...base, pid: 200, holderChains: chain})).toMatchObject({ok: false, why: expect.stringMatching(/^pid 200 \(bash\) is not the service's: port 8080 is held by another process/)})
  })
  it('or it runs the start command (its program compared by name), or the script it names', () => {
    expect(pidFileVouched({...base, pid: 7, holderChains: [], cmdline: ['node', 'server.js'], comm: 'node'}).ok).toBe(true)
    expect(pidFileVouched({...base, pid: 7, holderChains: [], cmdline: ['node', 'other.js'], comm: 'node'}).ok).toBe(false)
    expect(pidFileVouched({...base, pid: 7, holderChains: [], startCmd: ['/srv/start.sh'], cmdline: ['/bin/bash', '/srv/start.sh'], comm: 'bash'}).ok).toBe(true)
  })
})
