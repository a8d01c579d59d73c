import {formatBytes} from './cgroup-limits.js'

/**
 * Parsers and the explanation of `medic kill-trace`: tracefs lines (signal_generate,
 * sched_process_fork), strace lines, kernel OOM lines, and what they add up to. Pure.
 */
import {formatMs} from './duration.js'

export const SIGNALS: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1',
  11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 16: 'SIGSTKFLT', 17: 'SIGCHLD', 18: 'SIGCONT', 19: 'SIGSTOP',
  20: 'SIGTSTP', 21: 'SIGTTIN', 22: 'SIGTTOU', 23: 'SIGURG', 24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF', 28: 'SIGWINCH',
  29: 'SIGIO', 30: 'SIGPWR', 31: 'SIGSYS',
}
export const SIGNAL_NUMBERS: Record<string, number> = Object.fromEntries(Object.entries(SIGNALS).map(([n, s]) => [s, Number(n)]))

/** si_code values that matter: who generated the signal. */
export function codeName(code: number): string {
  return ({0: 'SI_USER (kill)', 128: 'SI_KERNEL (the kernel)', [-1]: 'SI_QUEUE', [-6]: 'SI_TKILL (tgkill)', 1: 'CLD_EXITED'} as Record<number, string>)[code] ?? `code ${code}`
}

export interface SignalEvent {
  ts: number
  senderPid: number
  senderComm: string
  sig: number
  code: number
  targetPid: number
  targetComm: string
  /** 0 delivered/queued, 1 ignored, 2 already pending, 3 blocked/… (TRACE_SIGNAL_*). */
  result: number
}

export interface ForkEvent {
  ts: number
  parentPid: number
  childPid: number
  childComm: string
}

const HEAD = /^\s*(.*)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(\w+):\s+(.*)$/

export function parseTraceLine(line: string): SignalEvent | ForkEvent | null {
  const m = HEAD.exec(line)
  if (!m) return null
  const [, comm, pid, ts, event, rest] = m
  if (event === 'signal_generate') {
    const f = /sig=(-?\d+) errno=(-?\d+) code=(-?\d+) comm=(.*) pid=(\d+) grp=(\d+) res=(\d+)/.exec(rest)
    if (!f) return null
    return {ts: Number(ts), senderPid: Number(pid), senderComm: comm, sig: Number(f[1]), code: Number(f[3]), targetComm: f[4], targetPid: Number(f[5]), result: Number(f[7])}
  }
  if (event === 'sched_process_fork') {
    const f = /comm=.* pid=(\d+) child_comm=(.*) child_pid=(\d+)/.exec(rest)
    if (!f) return null
    return {ts: Number(ts), parentPid: Number(f[1]), childComm: f[2], childPid: Number(f[3])}
  }
  return null
}

export function isSignalEvent(e: SignalEvent | ForkEvent): e is SignalEvent {
  return 'sig' in e
}

export interface StraceLine {
  pid: number
  kind: 'signal' | 'killed' | 'exited'
  sig?: number
  code?: string
  senderPid?: number
  senderUid?: number
  exitCode?: number
}

/**
 * strace -f output: `PID --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=12, si_uid=0} ---`,
 * `PID +++ killed by SIGKILL +++`, `PID +++ exited with 3 +++`. SIGKILL never reaches
 * userspace, so strace sees no sender for it — its blind spot, said plainly.
 */
export function parseStraceLine(line: string): StraceLine | null {
  const pidM = /^(?:\[pid\s+)?(\d+)\]?\s+(.*)$/.exec(line.trim())
  if (!pidM) return null
  const pid = Number(pidM[1])
  const rest = pidM[2]
  let m = /^--- (SIG\w+) \{si_signo=\w+, si_code=(\w+)(?:, si_pid=(\d+), si_uid=(\d+))?/.exec(rest)
  if (m) return {pid, kind: 'signal', sig: SIGNAL_NUMBERS[m[1]] ?? 0, code: m[2], ...(m[3] ? {senderPid: Number(m[3]), senderUid: Number(m[4])} : {})}
  m = /^\+\+\+ killed by (SIG\w+)/.exec(rest)
  if (m) return {pid, kind: 'killed', sig: SIGNAL_NUMBERS[m[1]] ?? 0}
  m = /^\+\+\+ exited with (\d+) \+\+\+/.exec(rest)
  if (m) return {pid, kind: 'exited', exitCode: Number(m[1])}
  return null
}

export interface OomKill {
  pid: number
  comm: string
  line: string
  memcg?: string
}

/**
 * Kernel log lines of the OOM killer: `Out of memory: Killed process 123 (node) …` and
 * `Memory cgroup out of memory: Killed process 123 (node) …`, and the `oom-kill:` summary.
 */
export function parseOomLines(text: string): OomKill[] {
  const out: OomKill[] = []
  for (const line of text.split('\n')) {
    const m = /(?:Memory cgroup out of memory|Out of memory[^:]*): Killed process (\d+) \(([^)]*)\)/.exec(line)
    if (m) {
      out.push({pid: Number(m[1]), comm: m[2], line: line.trim()})
      continue
    }
    const s = /oom-kill:.*task=([^,]*),pid=(\d+)/.exec(line)
    const memcg = /oom_memcg=([^,]*)/.exec(line)?.[1]
    if (s) out.push({pid: Number(s[2]), comm: s[1], line: line.trim(), ...(memcg ? {memcg} : {})})
  }
  return out
}

export interface SenderInfo {
  pid: number
  comm: string
  uid: number | null
  user: string | null
  cmdline: string[] | null
  /** Nearest first: `pid comm` of the parent chain, read at event time. */
  chain: string[]
  tty: string | null
}

export interface ObservedSignal extends SignalEvent {
  sender: SenderInfo
}

export interface Ending {
  /** How the target ended, as far as medic knows. */
  kind: 'exited' | 'signaled' | 'running' | 'vanished'
  code?: number
  signal?: number
}

export interface Explanation {
  fatal: ObservedSignal | null
  headline: string
  causes: string[]
  counts: {signal: string; sender: string; count: number}[]
}

/**
 * What `medic guard` recorded for each action (docs/contract.md, GUARD): the victim by
 * identity, the guard by identity, the reason with its sample values.
 */
export interface GuardAction {
  /** Wall clock, ms. */
  at: number
  guard: {pid: number; startTime: string}
  victim: {pid: number; startTime: string; comm: string}
  action: 'renice' | 'term' | 'kill' | 'restore'
  resource: string
  /** "memory 93 % > 88 % for 3 samples" */
  reason: string
  result: string
}

/** The job's own memory cgroup (run-dev-safe --memory-max, medic isolate), or the target's own one. */
export interface OwnCgroup {
  path: string
  /** Bytes; null when unknown. */
  limit: number | null
}

/** Matched against `comm cmdline…` of the sender. */
const SUPERVISORS: [RegExp, string][] = [
  [/^systemd /, "systemd's stop timeout (TimeoutStopSec, 90s by default)"],
  [/^(dockerd|containerd|containerd-shim\S*|docker-init) /, "docker stop's timeout (10s by default)"],
  [/PM2/, "PM2's kill_timeout (1.6s by default)"],
  [/supervisord/, "supervisord's stopwaitsecs (10s by default)"],
  [/\bmedic\b|bin\/run\.js (cleanup|supervise|health|watchdog|boot)/, 'a medic TERM → grace → KILL escalation'],
]

export function explain(ending: Ending, signals: ObservedSignal[], oom: OomKill[], targetPids: Set<number>, extra: {oomCounter: number | null; killers: string[]; ownCgroup?: OwnCgroup | null; guard?: GuardAction[]}): Explanation {
  const counts = new Map<string, number>()
  for (const s of signals) {
    if (s.sig === 17) continue
    const key = `${SIGNALS[s.sig] ?? s.sig}\0${s.senderComm} (pid ${s.senderPid})`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const countList = [...counts].map(([k, count]) => ({signal: k.split('\0')[0], sender: k.split('\0')[1], count}))
  const causes: string[] = []
  // The "Killed process" line reads better than the oom-kill: summary of the same kill.
  const oomHits = oom.filter((o) => targetPids.has(o.pid)).sort((a, b) => Number(b.line.includes('Killed process')) - Number(a.line.includes('Killed process')))
  const fatalSig = ending.kind === 'signaled' ? ending.signal : ending.kind === 'vanished' ? 9 : undefined
  const fatal = fatalSig === undefined ? null : [...signals].reverse().find((s) => s.sig === fatalSig && targetPids.has(s.targetPid)) ?? null
  if (ending.kind === 'running') return {fatal: null, headline: 'still running at the end of the trace', causes, counts: countList}
  if (ending.kind === 'exited') return {fatal: null, headline: `exited with code ${ending.code}${ending.code === 0 ? '' : ' (not a signal)'}`, causes, counts: countList}
  const sigName = SIGNALS[fatalSig!] ?? `signal ${fatalSig}`
  const how = ending.kind === 'signaled' ? `killed by ${sigName} (exit status ${128 + fatalSig!} = 128 + ${fatalSig})` : 'vanished (not our child: its status is unknown)'
  let ownOom = false
  if (oomHits.length || (fatal && fatal.code === 128 && fatal.sig === 9)) {
    const memcg = oomHits.find((o) => o.memcg)?.memcg
    const own = extra.ownCgroup
    // Its own cgroup: the kernel's line names it, or (an older kernel's lines name no cgroup) its own counter moved.
    // A path (`/…/medic-isolate-…`), or a systemd scope's unit name, whose parent slices are systemd's choice.
    const mine = (cg: string) => (own!.path.startsWith('/') ? cg === own!.path || cg.startsWith(`${own!.path}/`) : cg.endsWith(`/${own!.path}`) || cg.includes(`/${own!.path}/`))
    ownOom = !!own && (memcg !== undefined ? mine(memcg) : !!extra.oomCounter)
    const line = oomHits.length ? oomHits[0].line.replace(/^\[[\s\d.]+\]\s*/, '') : null
    if (ownOom) causes.push(`the kernel OOM killer in its own cgroup (${own!.path}${own!.limit !== null ? `, memory limit ${formatBytes(own!.limit)}` : ''}): the job went over its own budget and only its processes could be chosen${line ? `; ${line}` : ''}${extra.oomCounter ? `; cgroup oom_kill counter +${extra.oomCounter}` : ''}`)
    else causes.push(`the kernel OOM killer${line ? `: ${line}` : ' (SIGKILL generated by the kernel, SI_KERNEL)'}${memcg ? `; memory cgroup ${memcg}` : ''}${extra.oomCounter ? `; cgroup oom_kill counter +${extra.oomCounter}` : ''}`)
  }
  // medic guard's own record of why it acted (matched by the sender's pid when the tracer saw it).
  const guardCause = guardActionFor(fatal, fatalSig, extra.guard ?? [], targetPids)
  if (guardCause) causes.unshift(guardCause.cause)
  if (fatal && fatal.code !== 128) {
    const same = signals.filter((s) => s.senderPid === fatal.senderPid && targetPids.has(s.targetPid))
    const term = same.find((s) => s.sig === 15 && s.ts < fatal.ts)
    if (fatal.sig === 9 && term) {
      const sup = SUPERVISORS.find(([re]) => re.test(`${fatal.senderComm} ${fatal.sender.cmdline?.join(' ') ?? ''}`))
      causes.push(`a stop timeout: SIGTERM then SIGKILL ${formatMs((fatal.ts - term.ts) * 1000)} later from the same sender${sup ? ` — looks like ${sup[1]}` : ''}`)
    }
    if (extra.killers.includes(fatal.senderComm)) causes.push(`${fatal.senderComm}, a userspace OOM killer, chose the target`)
    if (fatal.sender.tty && fatal.sender.chain.some((c) => /\b(bash|zsh|sh|fish|dash|tmux|screen|sshd)\b/.test(c))) causes.push(`a human at a shell on ${fatal.sender.tty}`)
  }
  const who = guardCause?.seen && fatal
    ? `medic guard (pid ${fatal.senderPid})`
    : fatal
    ? fatal.code === 128 ? (ownOom ? 'the kernel OOM killer in its own cgroup' : 'the kernel') : `pid ${fatal.senderPid} (${fatal.senderComm}${fatal.sender.user ? `, user ${fatal.sender.user}` : ''}${fatal.sender.cmdline?.length ? `: ${fatal.sender.cmdline.join(' ').slice(0, 80)}` : ''})`
    : ownOom ? 'the kernel OOM killer in its own cgroup' : oomHits.length ? 'the kernel OOM killer' : 'an unseen sender'
  return {fatal, headline: `${how}; sent by ${who}`, causes, counts: countList}
}

/**
 * The guard's record for the fatal signal: the sender is the guard that wrote it (same
 * pid) and the victim is a target; without a seen sender (strace is blind to SIGKILL's),
 * a record of that signal to a target is named as evidence.
 */
function guardActionFor(fatal: ObservedSignal | null, fatalSig: number | undefined, records: GuardAction[], targets: Set<number>): {cause: string; seen: boolean} | null {
  if (fatalSig === undefined) return null
  const action = fatalSig === 9 ? 'kill' : fatalSig === 15 ? 'term' : null
  if (!action) return null
  const mine = records.filter((r) => r.action === action && r.result === 'sent' && targets.has(r.victim.pid))
  const seen = fatal && fatal.code !== 128 ? mine.filter((r) => r.guard.pid === fatal.senderPid && r.victim.pid === fatal.targetPid).at(-1) : undefined
  const r = seen ?? (fatal && fatal.code !== 128 ? undefined : mine.at(-1))
  if (!r) return null
  const what = action === 'kill' ? 'SIGKILL after its SIGTERM and grace' : 'SIGTERM'
  return {cause: `medic guard, ${r.reason} (${what}; guard pid ${r.guard.pid}${seen ? '' : ', from its record — the sender was not seen'})`, seen: !!seen}
}
