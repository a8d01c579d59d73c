import {describe, expect, it} from 'vitest'
import type {ProcessDeps} from '../../src/deps.js'
import {applyRemedy, type RemedyInput} from '../../src/ops/ollama-remedy.js'
import {LogFile} from '../../src/sys/log-file.js'
import type {ProcInfo, ProcessTable} from '../../src/sys/proc-table.js'
import {makeSignalGate} from '../../src/sys/signal-gate.js'

// The remedy's last look before a signal, in a fake world where the process table can
// change between the pass's observation and the act (the race the real one has).
// The real signal gate decides over the fake table; only kill(2) is the fake world's.
// Protection reaches the remedy only through the gate (its input has no --protect, its
// deps no registry), so a remedy that looked past the gate would signal what these tests
// say it must not.

interface Proc {
  pid: number
  startTime: string
  state: string
  comm: string
  cmdline: string[]
  ppid: number
}

function world(procs: Proc[], registry: {pid: number; startTime: string; name: string}[] = [], protect: RegExp[] = []) {
  const sent: string[] = []
  const hooks: {afterKill?: (pid: number, sig: string) => void} = {}
  const pending = new Set<number>()
  const table = new Map(procs.map((p) => [p.pid, p]))
  const info = (p: Proc): ProcInfo => ({pid: p.pid, comm: p.comm, state: p.state, ppid: p.ppid, pgid: p.pid, sid: p.pid, ttyNr: 0, startTime: p.startTime, utimeTicks: 0, stimeTicks: 0, threads: 1, uid: 0, cmdline: p.cmdline})
  const procTable = {
    get: (pid: number) => (table.has(pid) ? info(table.get(pid)!) : null),
    stat: (pid: number) => (table.has(pid) ? info(table.get(pid)!) : null),
    liveness: (pid: number, st: string) => (!table.has(pid) ? 'gone' : table.get(pid)!.startTime === st ? 'alive' : 'reused'),
    ancestors: () => [],
    descendants: (roots: number[]) => [...roots, ...procs.filter((p) => roots.includes(p.ppid)).map((p) => p.pid)],
    envVar: () => null, cgroup2: () => null, realUid: () => 0,
  } as unknown as ProcessTable
  let now = 0
  const deps: ProcessDeps = {
    clock: {now: () => now, wall: () => new Date(0), sleep: async (ms) => void (now += ms)},
    procs: procTable,
    ports: {} as ProcessDeps['ports'],
    gate: makeSignalGate({
      procs: procTable, selfPid: 2, policy: {protect, match: null},
      registry: () => registry.map((r) => ({version: 1 as const, ...r, cmdline: [], descendants: true, registeredAt: '', fileUid: 0, procUid: 0, sessionLive: false, source: 'test'})),
      kill: (pid, sig) => {
        sent.push(`${sig} ${pid}`)
        // A stopped process holds a TERM pending until the CONT wakes it.
        if (sig === 'SIGTERM') pending.add(pid)
        if (sig === 'SIGCONT' && pending.has(pid)) table.delete(pid)
        hooks.afterKill?.(pid, sig)
      },
    }),
    locks: {acquire: async () => ({acquired: true, release: () => {}})},
    log: new LogFile(undefined),
    progress: () => {},
    selfPid: 2,
    uid: 0,
  }
  const manager = {kind: 'command' as const, label: 'command manager', status: async () => ({available: true}), servicePids: () => null, stop: async () => null, start: async () => (sent.push('start'), {ok: true, detail: 'started'})}
  const input = (over: Partial<RemedyInput>): RemedyInput => ({remedy: 'resume-kill', manager, port: 11434, visible: true, listeners: [], runners: [], graceMs: 100, deadlineAt: null, t0: 0, ...over})
  return {deps, sent, table, input, registry, hooks}
}

const server: Proc = {pid: 4242, startTime: '100', state: 'T', comm: 'ollama', cmdline: ['/usr/bin/ollama', 'serve'], ppid: 1}
const runner: Proc = {pid: 4300, startTime: '150', state: 'T', comm: 'ollama', cmdline: ['/usr/bin/ollama', 'runner', '--model', '/m', '--port', '40001'], ppid: 4242}
const listener = (p: Proc) => ({pid: p.pid, startTime: p.startTime, state: p.state, comm: p.comm, isOllama: true, refusal: null})
const runnerOf = (p: Proc) => ({pid: p.pid, startTime: p.startTime, state: p.state, comm: p.comm, cpuCores: null, busyThreads: null, readBytesDelta: null})

describe('applyRemedy: what medic signals, checked again at the moment of acting', () => {
  it('a stopped server and its runner: SIGTERM + SIGCONT each, then the start', async () => {
    const w = world([server, runner])
    const r = await applyRemedy(w.input({listeners: [listener(server)], runners: [runnerOf(runner)]}), w.deps, () => {})
    expect(r).toMatchObject({ok: true, detail: 'killed stopped server pid 4242; started via command manager'})
    expect(w.sent).toEqual(['SIGTERM 4242', 'SIGCONT 4242', 'SIGTERM 4300', 'SIGCONT 4300', 'start'])
  })

  it('a server pid reused between the look and the act: not signalled; a restart instead', async () => {
    const w = world([{...server, startTime: 'NEW', comm: 'bash', cmdline: ['bash']}])
    const r = await applyRemedy(w.input({listeners: [listener(server)]}), w.deps, () => {})
    expect(w.sent).toEqual(['start'])
    expect(r.detail).toBe('restarted (the stopped server was gone) via command manager')
  })

  it('a server resumed (SIGCONT by someone) since the look: left alone, nothing done', async () => {
    const w = world([{...server, state: 'S'}])
    const r = await applyRemedy(w.input({listeners: [listener(server)]}), w.deps, () => {})
    expect(w.sent).toEqual([])
    expect(r).toMatchObject({ok: false, notDone: 'UNKNOWN', detail: 'server pid 4242 resumed (state S) before medic acted; not signalled'})
  })

  it('the systemd restart frees the port only of what holds it as Ollama, never a stranger on it', async () => {
    const stranger: Proc = {pid: 5000, startTime: '9', state: 'S', comm: 'python3', cmdline: ['python3', '-m', 'http.server', '11434'], ppid: 1}
    const w = world([stranger])
    const systemd = {kind: 'systemd' as const, label: 'systemd unit ollama', status: async () => ({available: true}), servicePids: () => null, stop: async () => (w.sent.push('stop'), {ok: true, detail: 'stopped'}), start: async () => (w.sent.push('start'), {ok: true, detail: 'started'})}
    // deps.ports is a trap here: looking at the port at all would throw.
    const r = await applyRemedy(w.input({remedy: 'restart', manager: systemd, listeners: [{...listener(stranger), isOllama: false}]}), w.deps, () => {})
    expect(w.sent).toEqual(['stop', 'start'])
    expect(r).toMatchObject({ok: true, detail: 'restarted via systemd unit ollama'})
  })

  it('a runner registered by run-dev-safe since the look (or under --protect): nothing signalled at all', async () => {
    const w = world([server, runner], [{pid: runner.pid, startTime: runner.startTime, name: 'bench'}])
    const r = await applyRemedy(w.input({listeners: [listener(server)], runners: [runnerOf(runner)]}), w.deps, () => {})
    expect(w.sent).toEqual([])
    expect(r).toMatchObject({ok: false, notDone: 'ALERT', detail: expect.stringMatching(/^not signalled: runner pid 4300: protected by run-dev-safe \(job "bench"\)/)})
    const p = world([server, runner], [], [/runner --model/])
    const k = await applyRemedy(p.input({remedy: 'runner-kill', runners: [runnerOf(runner)]}), p.deps, () => {})
    expect(p.sent).toEqual([])
    expect(k).toMatchObject({notDone: 'ALERT', detail: expect.stringMatching(/^no runner medic may signal \(runner pid 4300: matches --protect runner --model\)/)})
  })

  it('a runner protected after the look, between two signals: the gate refuses it then; ALERT, no start', async () => {
    const w = world([server, runner])
    w.hooks.afterKill = (pid, sig) => {
      if (pid === server.pid && sig === 'SIGTERM') w.registry.push({pid: runner.pid, startTime: runner.startTime, name: 'late'})
    }
    const r = await applyRemedy(w.input({listeners: [listener(server)], runners: [runnerOf(runner)]}), w.deps, () => {})
    expect(w.sent).toEqual(['SIGTERM 4242', 'SIGCONT 4242'])
    expect(r.ok).toBe(false)
    expect(r.detail).toMatch(/^the stopped Ollama not cleared: still running: runner pid 4300 \(refused: protected by run-dev-safe \(job "late"\)/)
  })

  it('a runner pid reused after the look: dropped (not signalled), the stopped server still handled', async () => {
    const w = world([server, {...runner, startTime: 'NEW', comm: 'sshd', cmdline: ['sshd']}])
    const r = await applyRemedy(w.input({listeners: [listener(server)], runners: [runnerOf(runner)]}), w.deps, () => {})
    expect(w.sent).toEqual(['SIGTERM 4242', 'SIGCONT 4242', 'start'])
    expect(r).toMatchObject({ok: true})
  })
})
