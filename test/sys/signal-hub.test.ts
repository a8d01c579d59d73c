import {spawn} from 'node:child_process'
import {afterEach, describe, expect, it} from 'vitest'
import {Janitor} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/**
 * A real process subscribes through the hub and reports each signal on stdout; the test
 * signals it only after it has said it is ready (or reported the previous signal).
 */
function subscriber() {
  const script = `
    import {processSignalHub} from '${new URL('../../dist/sys/signal-hub.js', import.meta.url).pathname}'
    const keep = setInterval(() => {}, 1 << 30)
    const say = (s) => process.stdout.write(s + '\\n')
    const all = processSignalHub.subscribe((s) => say('all ' + s))
    const off = processSignalHub.subscribe((s) => {
      say('hup-term ' + s)
      // The first SIGTERM: every subscription ends, so node's default (die) is back.
      if (s === 'SIGTERM') { off(); off(); all(); say('off') }
    }, ['SIGHUP', 'SIGTERM'])
    say('ready')
  `
  const c = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'inherit'], detached: true})
  j.child(c)
  const lines: string[] = []
  const waiters: [string, () => void][] = []
  let buf = ''
  c.stdout!.on('data', (d) => {
    buf += d
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i))
      buf = buf.slice(i + 1)
      for (const w of waiters.filter(([l]) => lines.includes(l))) w[1]()
    }
  })
  const saw = (line: string) => new Promise<void>((r) => (lines.includes(line) ? r() : waiters.push([line, r])))
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((r) => c.once('exit', (code, signal) => r({code, signal})))
  return {c, lines, saw, exit}
}

describe('signal hub (a real process)', () => {
  it('delivers each subscribed signal to its subscribers, and gives the default back when the last unsubscribes', async () => {
    const s = subscriber()
    await s.saw('ready')
    process.kill(s.c.pid!, 'SIGINT')
    await s.saw('all SIGINT')
    process.kill(s.c.pid!, 'SIGHUP')
    await s.saw('hup-term SIGHUP')
    await s.saw('all SIGHUP')
    process.kill(s.c.pid!, 'SIGTERM')
    await s.saw('off')
    // Unsubscribed (twice: harmless): the next SIGTERM kills it the way node's default does.
    process.kill(s.c.pid!, 'SIGTERM')
    expect(await s.exit).toEqual({code: null, signal: 'SIGTERM'})
    // Subscribers in the order they subscribed; SIGINT only to the one that asked for all three.
    expect(s.lines).toEqual(['ready', 'all SIGINT', 'all SIGHUP', 'hup-term SIGHUP', 'all SIGTERM', 'hup-term SIGTERM', 'off'])
  })
})
