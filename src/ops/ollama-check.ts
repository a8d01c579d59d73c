import {formatMs} from '../core/duration.js'
import {afterCanary, budgetExhausted, budgetUsed, chargeRemediation, gateAction, loadFrozenState, isWaiting, observePass, waitingVerdict, type FrozenConfig, type FrozenState} from '../core/ollama/freeze.js'
import {monitorFamilies, type Probe} from '../core/ollama/metrics.js'
import {assess} from '../core/ollama/policy.js'
import {gpuWedged, verifyWaitMs} from '../core/ollama/progress.js'
import {chooseRemedy} from '../core/ollama/remedy.js'
import {renderFamilies} from '../core/prom.js'
import type {Action, Check, Status, Verdict} from '../core/verdict.js'
import type {ServiceManager} from '../sys/managers.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import type {ProcessDeps} from '../deps.js'
import {canaryWatchingGpu} from './ollama-canary.js'
import {captureDiagnostics} from './ollama-diagnostics.js'
import {writeOllamaTextfile} from './ollama-textfile.js'
import {observeOllama, type PreviousSamples} from './ollama-observe.js'
import {applyRemedy, verifyOllama} from './ollama-remedy.js'

export interface OllamaInput {
  url: string
  port: number
  /** Medic may look at and signal the server's processes: a local URL, not `--manager ssh`. */
  visible: boolean
  config: FrozenConfig
  canaryTimeoutMs: number
  probeTimeoutMs: number
  psTimeoutMs: number
  nvidiaTimeoutMs: number
  /** nvidia-smi readings per canary, 1 s apart (the pass's own reading is the first). */
  gpuSamples: number
  repair: boolean
  dryRun: boolean
  runnerKill: boolean
  statePath: string
  /** The diagnostics folder for a UTC stamp (the state layout's). */
  diagPath: (stamp: string) => string
  metricsFile: string | null
  graceMs: number
  unit: string
  /** The systemd unit whose cgroup identifies the server (systemd managers), else null. */
  serverUnit: string | null
  container: string
  deadlineAt: number | null
}

export interface OllamaDeps extends ProcessDeps {
  manager: ServiceManager
}

export interface Persisted extends PreviousSamples {
  frozen: FrozenState
}

const GPU_GAP_MS = 1000

/** One pass of `medic ollama frozen-check`: observe, step the freeze state, maybe canary, maybe act, verify. */
export async function frozenCheck(input: OllamaInput, deps: OllamaDeps): Promise<Verdict> {
  const {clock} = deps
  const t0 = clock.now()
  const now = clock.wall().getTime()
  const cfg = input.config
  const actions: Action[] = []
  const details: string[] = []
  const log = (l: string) => {
    deps.log.line(`[ollama] ${l}`)
    deps.progress(`[ollama] ${l}`)
  }
  const saved = readJson<Persisted>(input.statePath)
  const loaded0 = loadFrozenState(saved?.frozen, now)
  const firstPass = loaded0.firstPass
  let state = loaded0.state

  const o = await observeOllama(input, deps, saved, now)
  const up = o.obs.up.ok
  const loaded = o.models ?? []
  const a = assess(o.obs, cfg)
  const step = observePass(state, a, now, cfg, firstPass)
  state = step.state
  const wedged = gpuWedged(o.nvidia, o.runners.length, loaded.length)
  const probes: Probe[] = [...o.probes]
  const gpu = o.obs.gpu

  const checks: Check[] = [
    {name: 'liveness', status: up ? 'OK' : 'ALERT', detail: `${input.url}/api/version: ${o.upDetail}`},
    {name: 'inventory', status: o.obs.ps.kind === 'ok' ? 'OK' : 'UNKNOWN', detail: o.obs.ps.kind === 'ok' ? (loaded.length ? loaded.map((m) => `${m.name} (${m.sizeVram > 0 ? `${Math.round((m.sizeVram / Math.max(1, m.size)) * 100)}% GPU` : 'CPU'}, expires ${m.expiresAt ?? '?'})`).join(', ') : 'nothing loaded') : o.obs.ps.detail},
    {name: 'server', status: 'OK', detail: !input.visible ? 'remote (or --manager ssh): processes not visible' : o.listeners.length ? o.listeners.map((l) => `pid ${l.pid} ${l.comm} state ${l.state}`).join('; ') : o.invisibleListener ? 'port held by a process medic cannot see' : `nothing listens on port ${input.port}`},
    {name: 'runners', status: 'OK', detail: o.runners.length ? o.runners.map((r) => `pid ${r.pid} ${r.state} cpu ${r.cpuCores === null ? 'first sample' : r.cpuCores.toFixed(2)} cores, ${r.busyThreads ?? '?'} busy threads`).join('; ') : 'none'},
    {name: 'gpu', status: wedged ? 'ALERT' : 'OK', detail: wedged ?? (gpu.kind === 'ok' ? gpu.gpus.map((g) => `GPU ${g.index} util ${g.util ?? 'N/A'}% mem ${g.memUsedMiB ?? 'N/A'}/${g.memTotalMiB ?? 'N/A'} MiB`).join(', ') + (gpu.vramDeltaMiB !== null ? `; VRAM Δ ${gpu.vramDeltaMiB} MiB` : '') : gpu.detail)},
    {name: 'assessment', status: a.kind === 'down' ? 'ALERT' : a.kind === 'stall' || a.kind === 'inconclusive' ? 'UNKNOWN' : 'OK', detail: `${a.kind}: ${a.why}${step.plan.kind === 'suspect' ? `; for ${formatMs(step.plan.forMs)} (threshold ${formatMs(step.plan.thresholdMs)})` : ''}`},
  ]
  if (firstPass) details.push('first pass: baseline recorded; the first pass never acts')

  const finish = (s: Status, text: string, extra: Record<string, unknown> = {}): Verdict => {
    const exhausted = budgetExhausted(state, now, cfg)
    checks.push({name: 'restart budget', status: exhausted ? 'ALERT' : 'OK', detail: `${budgetUsed(state, now, cfg)}/${cfg.maxRestarts} in the last ${formatMs(cfg.restartWindowMs)}; ${state.restartsTotal} in all`})
    try {
      writeFileAtomic(input.statePath, JSON.stringify({frozen: state, samples: o.samples, vramMiB: o.vramMiB} satisfies Persisted) + '\n')
    } catch (e) {
      log(`cannot write ${input.statePath}: ${(e as Error).message}`)
    }
    if (input.metricsFile) {
      try {
        writeOllamaTextfile(input.metricsFile, renderFamilies(monitorFamilies({up, frozenForS: (state.suspectSince === null ? 0 : now - state.suspectSince) / 1000, state, budgetExhausted: exhausted, now, probes})), 'frozen-check', deps)
      } catch (e) {
        // Refused or failed (not medic's file, a symlink, another writer's): said, never OK.
        const why = (e as Error).message
        checks.push({name: 'textfile', status: 'UNKNOWN', detail: why})
        log(`textfile not written: ${why}`)
        if (s === 'OK') {
          s = 'UNKNOWN'
          text = `${why}; ${text}`
        } else text = `${text}; textfile not written: ${why}`
      }
    }
    log(`${s}: ${text}`)
    return {subject: 'OLLAMA', status: s, summary: text, checks, actions, details, extra: {url: input.url, assessment: a, state: {suspect: state.suspect, suspectSince: state.suspectSince, failures: state.failures, restartsTotal: state.restartsTotal, falseAlarms: state.falseAlarms}, firstPass, ...extra}}
  }

  const down = `Ollama API down at ${input.url}: ${o.upDetail}`
  const plan = step.plan
  if (wedged && up && loaded.length === 0 && o.runners.length === 0) return finish('ALERT', `GPU wedged (${wedged}): reboot needed`)
  if (isWaiting(plan)) {
    const w = waitingVerdict(plan, a, state, cfg, down)
    return finish(w.status, w.summary)
  }

  let evidence: string
  if (plan.kind === 'canary') {
    // Only against a model already loaded; the GPU is read while the canary waits.
    const target = loaded[0]
    const watch = input.gpuSamples > 1 && gpu.kind === 'ok' ? {samples: input.gpuSamples - 1, gapMs: GPU_GAP_MS, timeoutMs: input.nvidiaTimeoutMs, runnerGpus: gpu.runnerGpus, busyPct: cfg.gpuBusyPct} : null
    deps.progress.step?.(`canary: one token from ${target.name} (gives up after ${formatMs(input.canaryTimeoutMs)})`)
    const c = await canaryWatchingGpu(input.url, target, input.canaryTimeoutMs, watch, clock)
    deps.progress.step?.()
    if (c.ok) probes.push({endpoint: '/api/generate', ms: c.ms})
    actions.push({action: 'canary', target: target.name, result: c.outcome === 'ok' ? 'ok' : `${c.outcome}: ${c.detail}`, ms: Math.round(clock.now() - t0)})
    checks.push({name: 'canary', status: c.outcome === 'failed' ? 'ALERT' : 'OK', detail: `${c.detail}${c.gpuReadings ? `; ${c.gpuReadings} GPU readings while it waited` : ''}`})
    state = afterCanary(state, c.outcome)
    if (c.outcome === 'ok') return finish('OK', `false alarm: ${c.detail}`)
    if (c.outcome === 'busy') return finish('OK', `busy, not frozen: ${c.detail}`)
    evidence = c.detail
  } else evidence = o.upDetail

  const what = state.suspect === 'down' ? `API down for ${formatMs(plan.forMs)}` : `frozen for ${formatMs(plan.forMs)}`
  const g = gateAction(state, now, cfg, {repair: input.repair, gpuWedged: wedged})
  if (g.kind === 'wait') {
    checks.push({name: 'decision', status: 'UNKNOWN', detail: g.why})
    if (state.suspect === 'down') return finish('ALERT', `${down}; for ${formatMs(plan.forMs)}; confirming (${g.why.replace('liveness ', '')})`)
    return finish('UNKNOWN', `frozen suspected for ${formatMs(plan.forMs)}: ${evidence}; confirming (${g.why})`)
  }
  if (g.kind === 'alert') {
    checks.push({name: 'decision', status: 'ALERT', detail: g.why})
    return finish('ALERT', `${what}: ${g.why}`)
  }
  const remedy = chooseRemedy({
    suspect: state.suspect ?? 'stall', down: o.obs.up.ok ? null : o.obs.up.how, visible: input.visible,
    listeners: o.listeners, invisibleListener: o.invisibleListener, otherServers: o.otherServers,
    runnerKill: input.runnerKill, killableRunners: o.runners.filter((r) => r.state !== 'D').length,
  }, state, now, cfg.restartWindowMs)
  checks.push({name: 'decision', status: remedy.kind === 'act' ? 'RECOVERED' : 'ALERT', detail: remedy.kind === 'act' ? `${remedy.remedy}: ${remedy.why}` : remedy.why})
  if (remedy.kind === 'alert') return finish('ALERT', `${what}: ${remedy.why}`)
  const would = remedy.remedy === 'runner-kill' ? `kill runner ${o.runners.map((r) => r.pid).join(', ')}` : remedy.remedy === 'resume-kill' ? `SIGTERM + SIGCONT the stopped server ${o.listeners.map((l) => l.pid).join(', ')}, then start via ${deps.manager.label}` : `${remedy.remedy} via ${deps.manager.label}`
  if (input.dryRun) return finish('ALERT', `${what}; dry run: would ${would}`, {remedy: remedy.remedy})

  if (input.deadlineAt !== null && clock.now() >= input.deadlineAt) return finish('ALERT', `${what}; not remediated: --timeout reached first`, {remedy: remedy.remedy})
  // Remediate: diagnostics first, then the remedy; charged to the budget whatever happens.
  const diag = await captureDiagnostics({path: input.diagPath, at: deps.clock.wall(), psText: o.ps?.kind === 'ok' ? o.ps.text : '', nvidia: o.nvidia, pids: [...o.listeners.map((l) => l.pid), ...o.runners.map((r) => r.pid)], manager: deps.manager, unit: input.unit, container: input.container})
  details.push(`diagnostics in ${diag}`)
  // Charged before acting, so a medic killed mid-remedy has still spent it (fail closed);
  // given back only when nothing was done.
  const uncharged = state
  state = chargeRemediation(state, remedy.remedy, now, cfg)
  // The charge is on disk before acting, or there is no remediation (fail closed).
  try {
    writeFileAtomic(input.statePath, JSON.stringify({frozen: state, samples: o.samples, vramMiB: o.vramMiB} satisfies Persisted) + '\n')
  } catch (e) {
    return finish('ALERT', `${what}; not remediated: cannot record the restart budget: ${(e as Error).message}`, {remedy: remedy.remedy})
  }
  const r = await applyRemedy({remedy: remedy.remedy, manager: deps.manager, port: input.port, visible: input.visible, listeners: o.listeners, runners: o.runners, graceMs: input.graceMs, deadlineAt: input.deadlineAt, t0}, deps, log)
  actions.push(...r.actions)
  log(r.detail)
  if (r.notDone) {
    state = uncharged
    return finish(r.notDone, `${what}; ${r.detail}`, {remedy: remedy.remedy})
  }
  if (!r.ok) return finish('ALERT', `${what}; ${r.detail}`, {remedy: remedy.remedy})

  // Verify after the cooldown, with the same probes.
  const wait = verifyWaitMs(cfg.cooldownMs, clock.now(), input.deadlineAt, input.canaryTimeoutMs)
  deps.progress.step?.(`${r.detail}; verifying after the cooldown (${formatMs(wait)})`)
  await clock.sleep(wait)
  const v = await verifyOllama(input)
  deps.progress.step?.()
  actions.push({action: 'verify', target: input.url, result: `${v.ok ? 'ok' : 'failed'}: ${v.how}`, ms: Math.round(clock.now() - t0)})
  return finish(v.ok ? 'RECOVERED' : 'ALERT', v.ok ? `${what}; ${r.detail}; verified (${v.how})` : `${what}; ${r.detail}; did not help: ${v.how}`, {remedy: remedy.remedy})
}
