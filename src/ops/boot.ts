import {fileURLToPath} from 'node:url'
import {bootObserve, bootProbed, startBootWait} from '../core/boot-wait.js'
import {formatMs} from '../core/duration.js'
import type {Action, Verdict} from '../core/verdict.js'
import type {Prober} from '../sys/probe.js'
import type {Spawner} from '../sys/spawn-job.js'
import type {StateLayout} from '../sys/state-layout.js'
import {cleanup} from './cleanup.js'
import type {ProcessDeps} from '../deps.js'
import {readSupervisor} from './supervise-status.js'

export interface BootInput {
  name: string
  command: string[]
  port: number | null
  healthUrl: string | null
  waitMs: number
  layout: StateLayout
  /** Flags handed on to `medic supervise` as they are. */
  superviseArgs: string[]
  /** `--timeout`: the wait ends there too, whatever --wait says. */
  deadlineAt: number | null
}

export interface BootDeps extends ProcessDeps {
  prober: Prober
  spawner: Pick<Spawner, 'daemon'>
}

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * `medic boot` (wsl_boot.sh): idempotent. A live supervisor for the name — pid, start
 * time and command line all verified, so a stale pid file is never trusted — is BOOT_OK.
 * Otherwise: free the port, start `medic supervise` detached in its own session, and
 * wait until the service answers. Concurrent boots are serialised by a lock, so the
 * second finds the first one's supervisor.
 */
export async function boot(input: BootInput, deps: BootDeps): Promise<Verdict> {
  const {clock, procs} = deps
  const t0 = clock.now()
  const at = () => Math.round(clock.now() - t0)
  const actions: Action[] = []
  const base = {subject: 'BOOT', actions, checks: []}
  const log = (l: string) => deps.log.line(l)
  log(`boot ${input.name}: ${input.command.join(' ')}`)

  const lock = await deps.locks.acquire(`boot-${input.name}`, Math.min(input.waitMs + 5000, (input.deadlineAt ?? Infinity) - clock.now()), 'boot')
  if (!lock.acquired && lock.error) return {...base, status: 'ALERT', summary: `${input.name}: nothing started: ${lock.error}`}
  if (!lock.acquired) return {...base, status: 'UNKNOWN', summary: `another medic boot (pid ${lock.owner?.pid ?? '?'}) is still starting ${input.name}`}
  try {
    const existing = readSupervisor(input.layout, input.name, procs)
    if (existing.file && existing.alive) {
      const now = procs.get(existing.file.supervisor.pid)
      const same = now && now.cmdline.join('\0') === existing.file.supervisor.cmdline.join('\0')
      if (same) {
        log(`supervisor already running (pid ${existing.file.supervisor.pid})`)
        return {...base, status: 'OK', summary: `${input.name}: supervisor pid ${existing.file.supervisor.pid} already running${existing.file.child ? ` (child pid ${existing.file.child.pid})` : ''}`}
      }
      log(`pid ${existing.file.supervisor.pid} from the state file now runs something else: not trusted`)
    }

    if (input.port !== null) {
      const v = await cleanup({ports: [input.port], graceMs: 5000, killWaitMs: 3000, dryRun: false, deadlineAt: input.deadlineAt}, deps)
      actions.push(...v.actions)
      if (v.status === 'ALERT') return {...base, status: 'ALERT', summary: `${input.name}: cannot free the port before starting: ${v.summary}`}
      if (v.status === 'RECOVERED') log(`orphans cleaned: ${v.summary}`)
    }

    const errLog = input.layout.superviseErr(input.name)
    const argv = [process.execPath, BIN, 'supervise', '--name', input.name, '--state-dir', input.layout.dir, ...(input.port !== null ? ['--port', String(input.port)] : []), ...(input.healthUrl ? ['--health-url', input.healthUrl] : []), ...input.superviseArgs, '--', ...input.command]
    const {child: sup, outputError} = deps.spawner.daemon(argv, errLog)
    if (outputError) {
      log(`supervisor stderr not kept: ${outputError}`)
      deps.progress(`medic: supervisor stderr not kept: ${outputError}`)
    }
    let exitCode: number | null | undefined
    sup.once('exit', (c) => (exitCode = c))
    actions.push({action: 'start', target: `medic supervise --name ${input.name}`, result: `pid ${sup.pid}`, ms: at()})
    log(`supervisor started (pid ${sup.pid})`)

    let w = startBootWait(clock.now(), input.waitMs, input.deadlineAt)
    const waitText = w.byTimeout ? '--timeout' : formatMs(input.waitMs)
    deps.progress.step?.(`waiting for ${input.name} to answer (up to ${waitText})`)
    for (;;) {
      const s = readSupervisor(input.layout, input.name, procs)
      const supervisor = s.file && s.file.supervisor.pid === sup.pid ? {state: s.file.state, alert: s.file.alert ?? null, childPid: s.file.child?.pid ?? 0} : null
      let step = bootObserve(w, {exitCode, supervisor}, clock.now())
      if (step.next.kind === 'probe') {
        const {childPid, settled, runningMs} = step.next
        const p = input.healthUrl ? await deps.prober.http(input.healthUrl, 2000, [200, 399]) : input.port !== null ? await deps.prober.tcp('127.0.0.1', input.port, 2000) : {ok: settled, detail: `child pid ${childPid} running for ${formatMs(runningMs)}`}
        step = bootProbed(step.state, p, clock.now())
      }
      w = step.state
      const next = step.next
      switch (next.kind) {
        case 'exited':
          log(`ERROR: supervisor exited (${next.code}) after starting`)
          return {...base, status: 'ALERT', summary: `${input.name}: supervisor pid ${sup.pid} exited with ${next.code} (see ${errLog})`}
        case 'fatal':
          return {...base, status: 'ALERT', summary: `${input.name}: ${next.alert ?? 'the service cannot start'}`}
        case 'healthy':
          actions.push({action: 'verify', target: input.healthUrl ?? (input.port !== null ? `tcp ${input.port}` : 'child'), result: next.detail, ms: at()})
          log(`boot complete: supervisor pid ${sup.pid}, service healthy in ${formatMs(at())}`)
          return {...base, status: 'RECOVERED', summary: `${input.name}: started supervisor pid ${sup.pid}; service healthy in ${formatMs(at())}`}
        case 'timeout':
          log(`ERROR: not healthy within ${waitText} (${next.last})`)
          return {...base, status: 'ALERT', summary: `${input.name}: service not healthy within ${waitText} (${next.last}); supervisor pid ${sup.pid} keeps trying`}
        case 'sleep':
          await clock.sleep(next.ms)
          break
        case 'probe':
          throw new Error('unreachable: a probe step is always followed by bootProbed')
      }
    }
  } finally {
    deps.progress.step?.()
    lock.release()
  }
}
