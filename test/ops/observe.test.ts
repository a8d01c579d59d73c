import {describe, expect, it} from 'vitest'
import {makeObserver, type ObserveDeps, type SendResult} from '../../src/ops/observe.js'
import type {Status, Verdict} from '../../src/core/verdict.js'

/** Deliveries that answer only when the test says so: what a slow receiver does to a --watch loop. */
function world() {
  const sent: Status[] = []
  const pending: ((r: SendResult) => void)[] = []
  let record: unknown = null
  const logs: string[] = []
  const deps: ObserveDeps = {
    wall: () => new Date(Date.parse('2026-01-01T00:00:00Z')),
    host: 'h',
    previousRun: () => 'OK',
    counters: {read: () => null, write: () => {}},
    notifyRecord: {read: () => record, write: (r) => void (record = r)},
    writeMetrics: async () => {},
    runCommand: async () => ({ok: true, detail: ''}),
    post: (_u, body, _t, abandon) => new Promise((resolve) => {
      sent.push(JSON.parse(body.body).status)
      pending.push(resolve)
      abandon.addEventListener('abort', () => resolve({ok: false, detail: 'abandoned'}))
    }),
    log: (l) => void logs.push(l),
    remainingMs: () => Infinity,
    untilDeadline: () => new Promise(() => {}),
    interrupts: {subscribe: (fn) => {
      raise.push(fn)
      return () => void raise.splice(raise.indexOf(fn), 1)
    }},
    sleep: () => new Promise(() => {}),
  }
  const raise: ((s: 'SIGTERM' | 'SIGINT' | 'SIGHUP') => void)[] = []
  return {deps, sent, pending, raise, logs}
}

const v = (status: Status): Verdict => ({subject: 'GATEWAY', status, summary: status, checks: [], actions: []})

describe('the observer of a --watch loop', () => {
  it('drops a queued change the status already moved past: the receiver hears the newest status, not a stale one', async () => {
    const w = world()
    const o = makeObserver({command: 'health', subject: 'GATEWAY', metricsFile: null, notify: {argv: null, url: 'http://127.0.0.1:1/', format: 'json', limit: 60, timeoutMs: 5000}}, w.deps)
    const first = o.pass(v('ALERT'))
    await new Promise((r) => setImmediate(r))
    expect(w.sent).toEqual(['ALERT'])
    // While ALERT is being delivered, the status goes OK then ALERT again... then UNKNOWN.
    const a = o.pass(v('OK'))
    const b = o.pass(v('UNKNOWN'))
    w.pending.shift()!({ok: true, detail: ''})
    await first
    await a
    await new Promise((r) => setImmediate(r))
    expect(w.sent).toEqual(['ALERT', 'UNKNOWN']) // OK was already moved past: never sent
    w.pending.shift()!({ok: true, detail: ''})
    await b
  })

  it('SIGTERM abandons the delivery under way and every queued one: end() returns without waiting for the receiver', async () => {
    const w = world()
    const o = makeObserver({command: 'health', subject: 'GATEWAY', metricsFile: null, notify: {argv: null, url: 'http://127.0.0.1:1/', format: 'json', limit: 60, timeoutMs: 5000}}, w.deps)
    void o.pass(v('ALERT'))
    await new Promise((r) => setImmediate(r))
    void o.pass(v('OK'))
    void o.pass(v('UNKNOWN'))
    expect(w.sent).toEqual(['ALERT'])
    for (const f of [...w.raise]) f('SIGTERM')
    await o.end(v('OK'), 0) // the receiver never answers: only the abandon ends this
    expect(w.sent).toEqual(['ALERT']) // nothing started after the signal
    expect(w.logs).toEqual([expect.stringMatching(/notify: GATEWAY OK → ALERT via .* failed: abandoned: medic was stopped \(SIGTERM\)/)])
    expect(w.raise).toHaveLength(0) // unsubscribed: node's default is back
  })

  it('a one-shot command listens only from end() on: SIGTERM then abandons its delivery', async () => {
    const w = world()
    const o = makeObserver({command: 'health', subject: 'GATEWAY', metricsFile: null, notify: {argv: null, url: 'http://127.0.0.1:1/', format: 'json', limit: 60, timeoutMs: 5000}}, w.deps)
    expect(w.raise).toHaveLength(0)
    const ended = o.end(v('ALERT'), 0)
    await new Promise((r) => setImmediate(r))
    expect(w.sent).toEqual(['ALERT'])
    for (const f of [...w.raise]) f('SIGINT')
    await ended
    expect(w.logs.join('\n')).toMatch(/abandoned: medic was stopped \(SIGINT\)/)
  })
})
