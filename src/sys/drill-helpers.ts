import {spawn, type ChildProcess} from 'node:child_process'
import type {ProcessTable} from './proc-table.js'

/**
 * The helper processes of `medic drill`, each a tiny node script (inline, so nothing
 * depends on where medic's files are) in its own process group, tied to medic by its
 * stdin: when medic dies — even by SIGKILL — the pipe closes and the helper ends.
 *
 * - squatter: takes a port the moment it is free and keeps it, accepting connections
 *   and never answering (the seed-000 orphan). It retries the bind every millisecond
 *   until `giveUpMs`, so it wins the race against a service restarting 100 ms later.
 *   It binds [::] dual-stack, which conflicts with a listener on any address.
 * - guard: a dead-man's switch for SIGSTOP. It is told each (pid, start time) the drill
 *   stopped; if medic dies without resuming them, it re-reads each identity from
 *   /proc and SIGCONTs the ones that are still the same process and still stopped.
 *   This is the one signal that cannot go through medic's in-process gate (medic is
 *   gone by then); it only ever undoes the drill's own SIGSTOP on an identity the gate
 *   already approved, and it re-checks the identity first.
 */
const SCRIPT = String.raw`
const net = require('net'), fs = require('fs')
const [mode, ...a] = process.argv.slice(1)
const say = (l) => { try { process.stdout.write(l + '\n') } catch {} }
for (const s of ['SIGINT', 'SIGHUP', 'SIGPIPE']) process.on(s, () => {})
if (mode === 'medic-drill-squatter') {
  process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume()
  const port = Number(a[0]), giveUpAt = Date.now() + Number(a[1]), held = []
  let waiting = false
  const attempt = (host) => {
    const s = net.createServer((c) => { held.push(c); c.on('error', () => {}) })
    s.once('error', (e) => {
      if (host === '::' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) return attempt('0.0.0.0')
      if (!waiting) { waiting = true; say('waiting ' + e.code) }
      if (Date.now() > giveUpAt) { say('gave-up ' + e.code); process.exit(3) }
      setTimeout(() => attempt(host), 1)
    })
    s.listen({port, host, ipv6Only: false, exclusive: true}, () => say('bound'))
  }
  attempt('::')
} else if (mode === 'medic-drill-guard') {
  const watch = new Map()
  let buf = ''
  const resume = () => {
    for (const [pid, start] of watch) {
      try {
        const t = fs.readFileSync('/proc/' + pid + '/stat', 'latin1')
        const f = t.slice(t.lastIndexOf(')') + 2).split(' ')
        if (f[19] === start && (f[0] === 'T' || f[0] === 't')) process.kill(Number(pid), 'SIGCONT')
      } catch {}
    }
    process.exit(0)
  }
  process.stdin.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const [cmd, pid, start] = buf.slice(0, i).split(' '); buf = buf.slice(i + 1)
      if (cmd === 'watch') watch.set(pid, start); else if (cmd === 'forget') watch.delete(pid)
      say('ok ' + cmd + ' ' + pid)
    }
  })
  process.stdin.on('end', resume); process.stdin.on('error', resume); process.on('SIGTERM', resume)
  say('ready')
}
`

export interface Helper {
  pid: number
  startTime: string
  /** Resolves when the process has exited. */
  exited: Promise<void>
  /** Closes its stdin: the helper ends by itself (the guard resumes what is still stopped first). */
  close(): void
}

export interface Squatter extends Helper {
  /** Resolves `waiting` (the port is taken, it retries), `bound`, or `gave-up CODE` / `exited`. */
  next(): Promise<string>
}

export interface Guard extends Helper {
  watch(pid: number, startTime: string): Promise<void>
  forget(pid: number): Promise<void>
}

export interface DrillHelpers {
  squatter(port: number, giveUpMs: number): Promise<Squatter>
  guard(): Promise<Guard>
}

function start(args: string[], procs: ProcessTable): Promise<{child: ChildProcess; pid: number; startTime: string; lines: () => Promise<string>; exited: Promise<void>}> {
  const child = spawn(process.execPath, ['-e', SCRIPT, ...args], {stdio: ['pipe', 'pipe', 'ignore'], detached: true})
  const queue: string[] = []
  const waiters: ((l: string) => void)[] = []
  let buf = ''
  let ended = false
  const push = (l: string) => (waiters.length ? waiters.shift()!(l) : queue.push(l))
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      push(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  child.stdin!.on('error', () => {})
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    ended = true
    while (waiters.length) waiters.shift()!('exited')
    resolve()
  }))
  const lines = () => (queue.length ? Promise.resolve(queue.shift()!) : ended ? Promise.resolve('exited') : new Promise<string>((r) => waiters.push(r)))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('spawn', () => resolve({child, pid: child.pid!, startTime: procs.stat(child.pid!)?.startTime ?? '', lines, exited}))
  })
}

export function makeDrillHelpers(procs: ProcessTable): DrillHelpers {
  return {
    async squatter(port, giveUpMs) {
      const h = await start(['medic-drill-squatter', String(port), String(Math.max(0, Math.round(giveUpMs)))], procs)
      return {pid: h.pid, startTime: h.startTime, exited: h.exited, next: h.lines, close: () => h.child.stdin!.end()}
    },
    async guard() {
      const h = await start(['medic-drill-guard'], procs)
      const ready = await h.lines()
      if (ready !== 'ready') throw new Error(`drill guard did not start (${ready})`)
      const send = async (line: string) => {
        h.child.stdin!.write(`${line}\n`)
        await h.lines()
      }
      return {
        pid: h.pid, startTime: h.startTime, exited: h.exited, close: () => h.child.stdin!.end(),
        watch: (pid, startTime) => send(`watch ${pid} ${startTime}`),
        forget: (pid) => send(`forget ${pid}`),
      }
    },
  }
}
