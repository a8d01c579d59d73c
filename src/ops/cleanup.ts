import type {KillTarget} from '../core/kill-plan.js'
import {foreignSocket, STATE_NAMES} from '../core/proc-parse.js'
import {describeProc} from '../core/protect.js'
import {formatMs} from '../core/duration.js'
import {worstOf, type Action, type Check, type Status, type Verdict} from '../core/verdict.js'
import type {Bindable, PortListeners} from '../sys/port-table.js'
import type {ProcessDeps} from '../deps.js'
import {terminate} from './terminate.js'

export interface CleanupInput {
  ports: number[]
  graceMs: number
  killWaitMs: number
  dryRun: boolean
  deadlineAt: number | null
  subject?: string
}

export interface Holder {
  pid: number
  startTime: string
  comm: string
  user: string
  state: string
  cmdline: string[]
  refused?: string
}

interface PortReport {
  port: number
  status: Status
  summary: string
  detail: string
  before: {listening: boolean; invisible: boolean; holders: Holder[]}
  after?: {listening: boolean; bindable: boolean; holders: number[]}
}

function label(h: Pick<Holder, 'pid' | 'comm'>): string {
  return `pid ${h.pid} (${h.comm})`
}

function holderText(h: Holder): string {
  return `pid ${h.pid} (${h.comm}, user ${h.user}, ${STATE_NAMES[h.state] ?? h.state})`
}

/**
 * `medic cleanup`: free TCP ports. Every process holding a LISTEN socket on the port is
 * a target (a forked child that inherited the socket too); clients never are. Targets
 * go through the identity-checked TERM → grace → KILL plan, and the port is then proven
 * bindable. Refused, protected, unkillable and invisible holders make it an ALERT that
 * names them.
 */
export async function cleanup(input: CleanupInput, deps: ProcessDeps): Promise<Verdict> {
  const subject = input.subject ?? 'PORT'
  const t0 = deps.clock.now()
  const actions: Action[] = []
  const details: string[] = []
  const reports: PortReport[] = []
  const initialBind = new Map<number, Bindable>()
  const targets = new Map<number, KillTarget>()
  // The bind test first: a dual-stack bind succeeds only when nothing at all listens on the
  // port, so a free port needs no socket table (a spawn of ss, ~10 ms of an ExecStartPre).
  const looks = await Promise.all(input.ports.map(async (port): Promise<[PortListeners, Bindable]> => {
    const bind = await deps.ports.bindable(port)
    return [bind.ok ? noListener(port) : await deps.ports.listeners(port), bind]
  }))
  for (const [i, port] of input.ports.entries()) {
    const [l, bind] = looks[i]
    initialBind.set(port, bind)
    const holders = l.pids.map((pid) => inspect(pid, deps, l)).filter((h): h is Holder => h !== null)
    for (const h of holders) if (!h.refused) targets.set(h.pid, {pid: h.pid, startTime: h.startTime, label: label(h)})
    reports.push({port, status: 'OK', summary: '', detail: '', before: {listening: l.listening, invisible: l.invisible, holders}})
    if (l.listening) {
      details.push(`port ${port}: ${l.sockets.map((s) => `${s.address}:${s.port}`).join(', ')} via ${l.via}`)
      for (const h of holders) details.push(`  holder ${holderText(h)}: ${describeProc(h)}${h.refused ? ` [refused: ${h.refused}]` : ''}`)
      if (l.invisible) details.push(`  a listening socket whose owner is invisible to uid ${deps.uid}`)
    }
  }

  if (input.dryRun) {
    for (const t of targets.values()) {
      details.push(`plan: SIGTERM+SIGCONT → ${t.label}; SIGKILL after ${formatMs(input.graceMs)} if still alive`)
    }
  } else if (targets.size > 0) {
    const lock = await lockPorts(input.ports, input.graceMs, deps)
    if (!lock.ok) {
      // One repair at a time per port (docs/contract.md §3.6): without the lock, no signal.
      deps.log.line(`cleanup ports ${input.ports.join(',')}: nothing signalled: ${lock.why}`)
      const summary = `port ${input.ports.join(', ')}: nothing signalled: ${lock.why}`
      return {subject, status: lock.status, summary, checks: reports.map((r) => ({name: `port ${r.port}`, status: lock.status, detail: summary})), actions, details, extra: {dryRun: false, ports: reports.map((r) => ({port: r.port, status: lock.status, before: r.before, after: null}))}}
    }
    const release = lock.release
    try {
      deps.log.line(`cleanup ports ${input.ports.join(',')}: terminating ${[...targets.values()].map((t) => t.label).join(', ')}`)
      const r = await terminate([...targets.values()], {graceMs: input.graceMs, killWaitMs: input.killWaitMs, deadlineAt: input.deadlineAt, t0}, deps)
      actions.push(...r.actions)
      for (const t of r.plan.targets) {
        if (t.phase === 'survived' || t.phase === 'denied') {
          const st = deps.procs.stat(t.target.pid)
          const why = st?.state === 'D' ? 'unkillable: uninterruptible sleep (D state)' : (t.reason ?? t.phase)
          for (const rep of reports) {
            const h = rep.before.holders.find((x) => x.pid === t.target.pid)
            if (h) h.refused = why
          }
        }
      }
    } finally {
      release()
    }
  }

  await Promise.all(reports.map((rep) => judgePort(rep, input, deps, actions, t0, initialBind.get(rep.port)!)))
  actions.sort((a, b) => a.ms - b.ms)

  const status = worstOf(reports.map((r) => r.status))
  const ordered = [...reports].sort((a, b) => rank(b.status) - rank(a.status))
  const summary = input.ports.length === 1 ? ordered[0].summary : ordered.map((r) => r.summary).join('; ')
  const checks: Check[] = reports.map((r) => ({name: `port ${r.port}`, status: r.status, detail: r.detail}))
  deps.log.line(`cleanup ports ${input.ports.join(',')}: ${status} ${summary}`)
  return {
    subject,
    status,
    summary,
    checks,
    actions,
    details,
    extra: {
      dryRun: input.dryRun,
      ports: reports.map((r) => ({port: r.port, status: r.status, before: r.before, after: r.after ?? null})),
    },
  }
}

function noListener(port: number): PortListeners {
  return {port, listening: false, sockets: [], pids: [], invisible: false, via: 'ss'}
}

function rank(s: Status): number {
  return {OK: 0, RECOVERED: 1, UNKNOWN: 2, ALERT: 3}[s]
}

/** A holder as the gate sees it now: what it would refuse is named, never signalled. */
function inspect(pid: number, deps: ProcessDeps, l: PortListeners): Holder | null {
  const seen = deps.gate.inspect(pid)
  if (!seen) return null // exited between the port lookup and now
  const p = seen.proc
  const holder: Holder = {pid, startTime: p.startTime, comm: p.comm, user: deps.procs.userName(p.uid), state: p.state, cmdline: p.cmdline}
  const foreign = seen.refusal ? null : foreignSocket(l.sockets, pid, deps.procs.realUid(pid))
  if (seen.refusal) holder.refused = seen.refusal.reason
  else if (foreign) holder.refused = foreign
  return holder
}

/** Every port's lock, in port order, or none: a lock that cannot be written (ALERT) or that another medic keeps past the wait (UNKNOWN) stops the cleanup. */
async function lockPorts(ports: number[], graceMs: number, deps: ProcessDeps): Promise<{ok: true; release: () => void} | {ok: false; status: Status; why: string}> {
  const releases: (() => void)[] = []
  const release = () => releases.forEach((f) => f())
  for (const port of [...ports].sort((a, b) => a - b)) {
    const r = await deps.locks.acquire(`port-${port}`, graceMs + 5000, 'cleanup')
    if (r.acquired) {
      releases.push(r.release)
      continue
    }
    release()
    if (r.error) return {ok: false, status: 'ALERT', why: r.error}
    return {ok: false, status: 'UNKNOWN', why: `another medic (pid ${r.owner?.pid ?? '?'}) is freeing port ${port}; not racing it`}
  }
  return {ok: true, release}
}

async function judgePort(rep: PortReport, input: CleanupInput, deps: ProcessDeps, actions: Action[], t0: number, initial: Bindable): Promise<void> {
  const {port, before} = rep
  const refused = before.holders.filter((h) => h.refused)
  const acted = !input.dryRun && before.holders.some((h) => !h.refused)

  if (!before.listening && !acted) {
    const b = initial
    if (b.ok || b.code === 'EACCES') {
      rep.status = 'OK'
      rep.summary = `port ${port} is free`
      rep.detail = b.ok ? 'no listener; bindable' : 'no listener (bind test not permitted below 1024 without root)'
    } else {
      rep.status = 'ALERT'
      rep.summary = `port ${port} is not bindable (${b.code}) but no listener is visible`
      rep.detail = rep.summary
    }
    rep.after = {listening: false, bindable: b.ok, holders: []}
    return
  }

  if (input.dryRun) {
    const who = before.holders.map(holderText).join(', ') || 'an invisible process'
    rep.status = 'ALERT'
    rep.summary = `port ${port} held by ${who}; dry run, nothing done`
    rep.detail = refused.length ? `would refuse: ${refused.map((h) => `pid ${h.pid}: ${h.refused}`).join('; ')}` : 'would terminate every holder'
    return
  }

  // Verify by binding: a dual-stack bind succeeds only when nothing listens on the port
  // at all, so the socket table is read again only to explain a failure. A short retry
  // absorbs the socket teardown of a process that has only just exited.
  let bind = await deps.ports.bindable(port)
  let after: PortListeners = bind.ok ? noListener(port) : await deps.ports.listeners(port)
  for (let i = 0; i < 10 && !bind.ok && refused.length === 0; i++) {
    await deps.clock.sleep(20)
    bind = await deps.ports.bindable(port)
    after = bind.ok ? noListener(port) : await deps.ports.listeners(port)
  }
  actions.push({action: 'bind-test', target: `port ${port}`, result: bind.ok ? 'bindable' : `not bindable (${bind.code})`, ms: Math.round(deps.clock.now() - t0)})
  rep.after = {listening: after.listening, bindable: bind.ok, holders: after.pids}
  const freed = !after.listening && (bind.ok || bind.code === 'EACCES')
  const mine = (a: Action) => before.holders.some((h) => a.target === label(h))
  const firstSignal = Math.min(...actions.filter((a) => a.action === 'SIGTERM' && mine(a)).map((a) => a.ms))
  const took = actions.filter((a) => a.action === 'exit' && mine(a)).map((a) => a.ms - (Number.isFinite(firstSignal) ? firstSignal : 0))
  if (freed && refused.length === 0 && !before.invisible) {
    rep.status = 'RECOVERED'
    const who = before.holders.map(label).join(', ')
    rep.summary = `port ${port} freed: ${who} terminated in ${formatMs(Math.max(0, ...took))}; bindable`
    rep.detail = rep.summary
    return
  }
  rep.status = 'ALERT'
  const reasons: string[] = []
  for (const h of refused) reasons.push(`${holderText(h)}: ${h.refused}`)
  if (before.invisible || (after.listening && after.pids.length === 0)) {
    reasons.push(deps.uid === 0 ? 'an invisible process (another namespace or hidden from root)' : 'an invisible process (not root: run as root to see and free it)')
  }
  const newcomers = after.pids.filter((p) => !before.holders.some((h) => h.pid === p))
  if (newcomers.length) reasons.push(`re-taken by pid ${newcomers.join(', ')}`)
  if (reasons.length === 0) reasons.push(bind.ok ? 'a listener remains' : `not bindable (${bind.code})`)
  rep.summary = `port ${port} still held: ${reasons.join('; ')}`
  rep.detail = rep.summary
}
