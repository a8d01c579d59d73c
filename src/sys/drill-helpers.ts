import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
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
 * - guard: a dead-man's switch. It is told each (pid, start time) the drill stopped and
 *   each runtime drop-in it is about to write (path and exact text); if medic dies without
 *   undoing them, it re-reads each identity from /proc and SIGCONTs the ones that are
 *   still the same process and still stopped, removes each drop-in that is still a regular
 *   file of exactly that text (its folder too when it made it, if empty), and runs
 *   `systemctl daemon-reload`. This is the one signal and the one removal that cannot go
 *   through medic's gates (medic is gone by then); they only ever undo the drill's own
 *   SIGSTOP on an identity the gate approved and the drill's own file, re-checked first.
 *   Under systemd the guard runs in a transient scope of its own (`systemd-run --scope`):
 *   outside the drill's process group and cgroup, so neither a SIGKILL of drill's group nor
 *   stopping a unit that runs the drill (KillMode=control-group) takes the guard with it.
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
  const watch = new Map(), dropIns = new Map(), path = require('path')
  const b64 = (s) => Buffer.from(s, 'base64').toString('utf8')
  let buf = ''
  const resume = () => {
    for (const [pid, start] of watch) {
      try {
        const t = fs.readFileSync('/proc/' + pid + '/stat', 'latin1')
        const f = t.slice(t.lastIndexOf(')') + 2).split(' ')
        if (f[19] === start && (f[0] === 'T' || f[0] === 't')) process.kill(Number(pid), 'SIGCONT')
      } catch {}
    }
    let removed = 0
    for (const [p, d] of dropIns) {
      try {
        const st = fs.lstatSync(p)
        if (!st.isFile() || fs.readFileSync(p, 'utf8') !== d.text) continue
        const again = fs.lstatSync(p)
        if (again.dev !== st.dev || again.ino !== st.ino) continue
        fs.unlinkSync(p); removed++
        if (!d.dirExisted) try { fs.rmdirSync(path.dirname(p)) } catch {}
      } catch {}
    }
    if (removed) try { require('child_process').spawnSync('systemctl', ['daemon-reload'], {stdio: 'ignore', timeout: 60000}) } catch {}
    process.exit(0)
  }
  process.stdin.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const [cmd, a, b] = buf.slice(0, i).split(' '); buf = buf.slice(i + 1)
      if (cmd === 'watch') watch.set(a, b); else if (cmd === 'forget') watch.delete(a)
      else if (cmd === 'dropin') dropIns.set(b64(a), {text: b64(b), dirExisted: fs.existsSync(path.dirname(b64(a)))})
      else if (cmd === 'forget-dropin') dropIns.delete(b64(a))
      say('ok ' + cmd)
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
  /** Told before the drop-in is written: should medic die, the guard removes it if it is still exactly `text`. */
  watchDropIn(path: string, text: string): Promise<void>
  forgetDropIn(path: string): Promise<void>
  /** Where it runs: `scope medic-drill-guard-….scope` or `medic's process tree`. */
  where: string
}

export interface DrillHelpers {
  squatter(port: number, giveUpMs: number): Promise<Squatter>
  guard(): Promise<Guard>
}

function start(args: string[], procs: ProcessTable, scope: string | null = null): Promise<{child: ChildProcess; pid: number; startTime: string; lines: () => Promise<string>; exited: Promise<void>}> {
  const argv = [process.execPath, '-e', SCRIPT, ...args]
  // systemd-run --scope registers its own pid as the scope and execs the command: same pid, same stdin.
  const child = scope === null ? spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'ignore'], detached: true})
    : spawn('systemd-run', ['--scope', '--quiet', '--collect', `--unit=${scope}`, '--', ...argv], {stdio: ['pipe', 'pipe', 'ignore'], detached: true})
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

/**
 * The helper's first line, or `timeout` after 10 s — a systemd-run stuck on its bus must not
 * hold the drill: then that child (medic's own, not yet reaped, so its pid is its own) is
 * SIGKILLed, like a timed-out external command.
 */
async function firstLine(h: {child: ChildProcess; lines: () => Promise<string>}): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const line = await Promise.race([h.lines(), new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)))])
  clearTimeout(timer)
  if (line === 'timeout' && h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL')
  return line
}

export function makeDrillHelpers(procs: ProcessTable): DrillHelpers {
  return {
    async squatter(port, giveUpMs) {
      const h = await start(['medic-drill-squatter', String(port), String(Math.max(0, Math.round(giveUpMs)))], procs)
      return {pid: h.pid, startTime: h.startTime, exited: h.exited, next: h.lines, close: () => h.child.stdin!.end()}
    },
    async guard() {
      // Under systemd, in a scope of its own; where that cannot be made, in medic's tree.
      const scope = existsSync('/run/systemd/system') ? `medic-drill-guard-${process.pid}-${Date.now()}.scope` : null
      let h = await start(['medic-drill-guard'], procs, scope).catch(() => null)
      let ready = h ? await firstLine(h) : 'not started'
      let where = scope === null ? "medic's process tree" : `scope ${scope}`
      if (ready !== 'ready' && scope !== null) {
        h = await start(['medic-drill-guard'], procs)
        ready = await firstLine(h)
        where = "medic's process tree (systemd-run --scope failed)"
      }
      if (!h || ready !== 'ready') throw new Error(`drill guard did not start (${ready})`)
      const g = h
      const send = async (line: string) => {
        g.child.stdin!.write(`${line}\n`)
        await g.lines()
      }
      const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
      return {
        pid: g.pid, startTime: g.startTime, exited: g.exited, close: () => g.child.stdin!.end(), where,
        watch: (pid, startTime) => send(`watch ${pid} ${startTime}`),
        forget: (pid) => send(`forget ${pid}`),
        watchDropIn: (path, text) => send(`dropin ${b64(path)} ${b64(text)}`),
        forgetDropIn: (path) => send(`forget-dropin ${b64(path)}`),
      }
    },
  }
}
