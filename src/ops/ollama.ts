import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {formatMs} from '../core/duration.js'
import {isRunnerCmdline, parsePs, parseTags, type LoadedModel} from '../core/ollama/api.js'
import {exporterFamilies, monitorFamilies} from '../core/ollama/metrics.js'
import {afterCanary, assess, budgetExhausted, chargeRestart, decideAct, newFrozenState, stepFrozen, type FrozenConfig, type FrozenState, type GpuObservation, type OllamaObservation, type RunnerSample} from '../core/ollama/policy.js'
import {utcStamp} from '../core/housekeeping.js'
import {renderFamilies} from '../core/prom.js'
import type {Action, Check, Status, Verdict} from '../core/verdict.js'
import {run} from '../sys/exec.js'
import {httpJson} from '../sys/http-json.js'
import type {ServiceManager} from '../sys/managers.js'
import {queryNvidia, type NvidiaResult} from '../sys/nvidia-smi.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import type {ProcessDeps} from './deps.js'
import {restartService} from './restart.js'
import {terminate} from './terminate.js'
import {watchLoop} from './watch-loop.js'

export interface OllamaInput {
  url: string
  config: FrozenConfig
  canaryTimeoutMs: number
  repair: boolean
  dryRun: boolean
  runnerKill: boolean
  gpuSamples: number
  psTimeoutMs: number
  nvidiaTimeoutMs: number
  statePath: string
  diagDir: string
  metricsFile: string | null
  graceMs: number
  protect: RegExp[]
  unit: string
  deadlineAt: number | null
}

export interface OllamaDeps extends ProcessDeps {
  manager: ServiceManager
  announce: (line: string) => void
}

interface Sample {
  at: number
  ticks: number
  threads: Record<string, number>
  readBytes: number | null
}

interface Persisted {
  frozen: FrozenState
  samples: Record<string, Sample>
  vramMiB: Record<string, number>
}

const TICKS = 100 // USER_HZ

function sampleProcess(pid: number, at: number, procs: ProcessDeps['procs']): Sample | null {
  const st = procs.stat(pid)
  if (!st) return null
  return {at, ticks: st.utimeTicks + st.stimeTicks, threads: procs.threadTicks(pid), readBytes: procs.readBytes(pid)}
}

/** The Ollama server (the listener on the API port) and its runner children, every era. */
function findProcesses(serverPids: number[], deps: ProcessDeps): {pid: number; startTime: string; state: string; comm: string}[] {
  const servers = new Set(serverPids)
  return deps.procs.descendants(serverPids).filter((pid) => !servers.has(pid)).map((pid) => deps.procs.get(pid)).filter((p) => p !== null && isRunnerCmdline(p.comm, p.cmdline)).map((p) => ({pid: p!.pid, startTime: p!.startTime, state: p!.state, comm: p!.comm}))
}

async function canary(url: string, m: LoadedModel, timeoutMs: number): Promise<{ok: boolean; detail: string}> {
  // One token, raw, no keep_alive (it would change the model's residency for everyone),
  // num_ctx echoed from /api/ps so the scheduler never reloads the model for us.
  const options: Record<string, number> = {num_predict: 1, temperature: 0}
  if (m.contextLength) options.num_ctx = m.contextLength
  const g = await httpJson('POST', `${url}/api/generate`, timeoutMs, {model: m.model, prompt: '1', raw: true, stream: false, options})
  if (g.kind !== 'ok') return {ok: false, detail: `canary on ${m.name}: ${g.detail}`}
  if (g.status === 400 && /does not support generate/.test(g.text)) {
    const e = await httpJson('POST', `${url}/api/embed`, timeoutMs, {model: m.model, input: 'ping'})
    const ok = e.kind === 'ok' && e.status === 200 && Array.isArray((e.body as {embeddings?: unknown[]})?.embeddings) && ((e.body as {embeddings: unknown[]}).embeddings.length > 0)
    return {ok, detail: `embed canary on ${m.name}: ${e.kind === 'ok' ? `HTTP ${e.status} in ${e.ms}ms` : e.detail}`}
  }
  const body = g.body as {done?: boolean; error?: string} | null
  const ok = g.status === 200 && body?.done === true && !body.error
  return {ok, detail: `canary on ${m.name}: HTTP ${g.status}${body?.error ? ` ${body.error}` : ''} in ${g.ms}ms`}
}

function gpuWedged(n: NvidiaResult | null, runners: number, models: number): string | null {
  if (!n) return null
  if (n.kind === 'hang') return n.detail
  if (n.kind === 'failed' && (n.code === 15 || n.code === 255 || /fallen off the bus/i.test(n.detail))) return n.detail
  if (n.kind === 'ok' && n.apps.length === 0 && runners === 0 && models === 0) {
    const held = n.gpus.filter((g) => (g.memUsedMiB ?? 0) > 1024)
    if (held.length) return `VRAM held with no process: ${held.map((g) => `GPU ${g.index} ${g.memUsedMiB} MiB`).join(', ')}`
  }
  return null
}

/** One pass of `medic ollama frozen-check`. */
export async function frozenCheck(input: OllamaInput, deps: OllamaDeps): Promise<Verdict> {
  const {clock} = deps
  const t0 = clock.now()
  const now = clock.wall().getTime()
  const actions: Action[] = []
  const details: string[] = []
  const log = (l: string) => {
    deps.log.line(`[ollama] ${l}`)
    deps.progress(`[ollama] ${l}`)
  }
  const saved = readJson<Persisted>(input.statePath)
  const firstPass = !saved || saved.frozen?.version !== 1
  let state: FrozenState = firstPass ? newFrozenState(now) : saved!.frozen
  const samples: Record<string, Sample> = {}

  // Observe
  const base = new URL(input.url)
  const [version, psRes] = await Promise.all([httpJson('GET', `${input.url}/api/version`, 5000), httpJson('GET', `${input.url}/api/ps`, input.psTimeoutMs)])
  const up = version.kind === 'ok' && version.status === 200
  const upDetail = version.kind === 'ok' ? `HTTP ${version.status} ${JSON.stringify(version.body ?? version.text.slice(0, 40))}` : version.detail
  const models = psRes.kind === 'ok' && psRes.status === 200 ? parsePs(psRes.body) : null
  const ps: OllamaObservation['ps'] = psRes.kind === 'timeout' ? {kind: 'timeout', detail: psRes.detail} : models ? {kind: 'ok', models} : {kind: 'error', detail: psRes.kind === 'ok' ? `HTTP ${psRes.status}` : psRes.detail}
  const local = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(base.hostname)
  const port = Number(base.port || (base.protocol === 'https:' ? 443 : 80))
  const serverPids = local ? (await deps.ports.listeners(port)).pids : []
  const procs = findProcesses(serverPids, deps)
  const runners: RunnerSample[] = procs.map((p) => {
    const key = `${p.pid}:${p.startTime}`
    const s = sampleProcess(p.pid, now, deps.procs)
    if (s) samples[key] = s
    const prev = saved?.samples?.[key]
    const dt = prev && s ? (s.at - prev.at) / 1000 : 0
    const cpuCores = prev && s && dt > 0 ? (s.ticks - prev.ticks) / TICKS / dt : null
    const busyThreads = prev && s && dt > 0 ? Object.entries(s.threads).filter(([tid, t]) => prev.threads[tid] !== undefined && (t - prev.threads[tid]) / TICKS / dt > 0.5).length : null
    const readBytesDelta = prev && s && prev.readBytes !== null && s.readBytes !== null ? s.readBytes - prev.readBytes : null
    return {pid: p.pid, startTime: p.startTime, state: p.state, cpuCores, busyThreads, readBytesDelta}
  })
  const loaded = models ?? []
  let nvidia: NvidiaResult | null = null
  const vramMiB: Record<string, number> = {}
  let gpu: GpuObservation = {kind: 'none', detail: 'not queried: no model loaded'}
  if (up && loaded.length > 0) {
    nvidia = await queryNvidia(input.nvidiaTimeoutMs, input.gpuSamples, 1000)
    if (nvidia.kind === 'missing') gpu = {kind: 'none', detail: 'nvidia-smi not found: CPU mode'}
    else if (nvidia.kind !== 'ok') gpu = {kind: nvidia.kind, detail: nvidia.detail}
    else {
      const runnerPids = new Set(runners.map((r) => r.pid))
      const runnerGpus = [...new Set(nvidia.apps.filter((a) => runnerPids.has(a.pid) || serverPids.includes(a.pid)).map((a) => a.gpuUuid))]
      for (const g of nvidia.gpus) if (g.memUsedMiB !== null) vramMiB[g.uuid] = g.memUsedMiB
      const prevV = saved?.vramMiB ?? {}
      const deltas = Object.entries(vramMiB).filter(([u]) => prevV[u] !== undefined).map(([u, v]) => v - prevV[u])
      gpu = {kind: 'ok', gpus: nvidia.gpus, runnerGpus, heldByNoProcessMiB: 0, vramDeltaMiB: deltas.length ? deltas.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0) : null}
    }
  }
  const obs: OllamaObservation = {now, up: {ok: up, detail: upDetail}, ps, gpu, runners}
  const a = assess(obs, input.config)
  const step = stepFrozen(state, a, now, input.config, firstPass)
  state = step.state
  const wedged = gpuWedged(nvidia, runners.length, loaded.length)

  const checks: Check[] = [
    {name: 'liveness', status: up ? 'OK' : 'ALERT', detail: `${input.url}/api/version: ${upDetail}`},
    {name: 'inventory', status: ps.kind === 'ok' ? 'OK' : 'UNKNOWN', detail: ps.kind === 'ok' ? (loaded.length ? loaded.map((m) => `${m.name} (${m.sizeVram > 0 ? `${Math.round((m.sizeVram / Math.max(1, m.size)) * 100)}% GPU` : 'CPU'}, expires ${m.expiresAt ?? '?'})`).join(', ') : 'nothing loaded') : ps.detail},
    {name: 'runners', status: 'OK', detail: runners.length ? runners.map((r) => `pid ${r.pid} ${r.state} cpu ${r.cpuCores === null ? 'first sample' : r.cpuCores.toFixed(2)} cores, ${r.busyThreads ?? '?'} busy threads`).join('; ') : local ? `none found under server pid ${serverPids.join(', ') || '(no listener)'}` : 'remote server: processes not visible'},
    {name: 'gpu', status: wedged ? 'ALERT' : 'OK', detail: wedged ?? (gpu.kind === 'ok' ? gpu.gpus.map((g) => `GPU ${g.index} util ${g.util ?? 'N/A'}% mem ${g.memUsedMiB ?? 'N/A'}/${g.memTotalMiB ?? 'N/A'} MiB`).join(', ') + (gpu.vramDeltaMiB !== null ? `; VRAM Δ ${gpu.vramDeltaMiB} MiB` : '') : gpu.detail)},
    {name: 'assessment', status: a.kind === 'down' ? 'ALERT' : a.kind === 'stall' ? 'UNKNOWN' : 'OK', detail: `${a.kind}: ${a.why}${a.kind === 'stall' ? `; for ${formatMs(step.frozenForMs)} (threshold ${formatMs(a.cpuOnly ? 2 * input.config.thresholdMs : input.config.thresholdMs)})` : ''}`},
  ]
  if (firstPass) details.push('first pass: baseline recorded; the first pass never acts')

  let status: Status
  let summary: string
  const finish = (s: Status, text: string): Verdict => {
    const exhausted = budgetExhausted(state, now, input.config)
    checks.push({name: 'restart budget', status: exhausted ? 'ALERT' : 'OK', detail: `${state.restarts.filter((t) => t > now - input.config.restartWindowMs).length}/${input.config.maxRestarts} in the last ${formatMs(input.config.restartWindowMs)}; ${state.restartsTotal} in all`})
    try {
      writeFileAtomic(input.statePath, JSON.stringify({frozen: state, samples, vramMiB} satisfies Persisted) + '\n')
    } catch (e) {
      log(`cannot write ${input.statePath}: ${(e as Error).message}`)
    }
    if (input.metricsFile) {
      try {
        writeFileAtomic(input.metricsFile, renderFamilies(monitorFamilies({up, frozenForS: (state.suspectSince === null ? 0 : now - state.suspectSince) / 1000, state, budgetExhausted: exhausted, now})))
      } catch (e) {
        log(`cannot write ${input.metricsFile}: ${(e as Error).message}`)
      }
    }
    log(`${s}: ${text}`)
    return {subject: 'OLLAMA', status: s, summary: text, checks, actions, details, extra: {url: input.url, assessment: a, state: {suspectSince: state.suspectSince, failures: state.failures, restartsTotal: state.restartsTotal, falseAlarms: state.falseAlarms}, firstPass}}
  }

  if (a.kind === 'down') return finish('ALERT', `Ollama API down at ${input.url}: ${upDetail}`)
  if (wedged && loaded.length === 0 && runners.length === 0) return finish('ALERT', `GPU wedged (${wedged}): reboot needed`)
  if (!step.canary) {
    if (a.kind === 'stall') return finish('OK', `${firstPass ? 'first pass never acts; ' : ''}stall suspected for ${formatMs(step.frozenForMs)} (${a.why}); canary after ${formatMs(a.cpuOnly ? 2 * input.config.thresholdMs : input.config.thresholdMs)}`)
    status = 'OK'
    summary = a.kind === 'idle' ? `healthy idle: ${a.why}` : a.kind === 'progress' ? `healthy: ${a.why}` : `inconclusive: ${a.why}`
    return finish(status, summary)
  }

  // Canary: only against a model already loaded.
  const target = loaded[0]
  const c = await canary(input.url, target, input.canaryTimeoutMs)
  actions.push({action: 'canary', target: target.name, result: c.ok ? 'ok' : `failed: ${c.detail}`, ms: Math.round(clock.now() - t0)})
  checks.push({name: 'canary', status: c.ok ? 'OK' : 'ALERT', detail: c.detail})
  state = afterCanary(state, c.ok)
  if (c.ok) return finish('OK', `false alarm: ${c.detail}`)

  const d = decideAct(state, now, input.config, {repair: input.repair, gpuWedged: wedged, killableRunner: input.runnerKill && runners.some((r) => r.state !== 'D')})
  checks.push({name: 'decision', status: d.kind === 'act' ? 'RECOVERED' : d.kind === 'alert' ? 'ALERT' : 'UNKNOWN', detail: d.kind === 'act' ? `act: ${d.ladder}` : d.why})
  if (d.kind === 'wait') return finish('UNKNOWN', `frozen suspected for ${formatMs(step.frozenForMs)}: ${c.detail}; confirming (${d.why})`)
  if (d.kind === 'alert') return finish('ALERT', `frozen for ${formatMs(step.frozenForMs)}: ${d.why}`)
  if (input.dryRun) return finish('ALERT', `frozen for ${formatMs(step.frozenForMs)}; dry run: would ${d.ladder === 'runner-kill' ? `kill runner ${runners.map((r) => r.pid).join(', ')}` : `restart via ${deps.manager.label}`}`)

  // Remediate: diagnostics first, then the ladder.
  const diag = await captureDiagnostics(input, deps, psRes.kind === 'ok' ? psRes.text : '', nvidia, runners.map((r) => r.pid))
  details.push(`diagnostics in ${diag}`)
  state = chargeRestart(state, d.ladder, now, input.config)
  let acted: {ok: boolean; detail: string}
  if (d.ladder === 'runner-kill') {
    const targets = runners.filter((r) => r.state !== 'D').map((r) => ({pid: r.pid, startTime: r.startTime, label: `runner pid ${r.pid}`}))
    const r = await terminate(targets, {graceMs: input.graceMs, killWaitMs: 3000, deadlineAt: input.deadlineAt, t0}, deps)
    actions.push(...r.actions)
    const left = r.plan.targets.filter((t) => t.phase === 'survived' || t.phase === 'denied')
    acted = {ok: left.length === 0, detail: left.length ? `runner survived: ${left.map((t) => t.reason).join(', ')}` : `killed stuck runner ${targets.map((t) => t.pid).join(', ')}`}
  } else {
    // Free the port only after a systemd stop (an orphaned `ollama serve`); a restart
    // command or Docker owns the whole restart, and Docker's proxy holds the port.
    const r = await restartService({manager: deps.manager, alreadyDown: false, port: local && deps.manager.kind === 'systemd' ? port : null, protect: input.protect, graceMs: input.graceMs, deadlineAt: input.deadlineAt, t0}, deps, log)
    actions.push(...r.actions)
    acted = {ok: r.ok, detail: r.ok ? `restarted via ${deps.manager.label}` : r.reason}
  }
  log(acted.detail)
  if (!acted.ok) return finish('ALERT', `frozen for ${formatMs(step.frozenForMs)}; ${acted.detail}`)

  // Verify after the cooldown, with the same probes.
  const wait = Math.max(0, Math.min(input.config.cooldownMs, input.deadlineAt === null ? Infinity : input.deadlineAt - clock.now() - input.canaryTimeoutMs))
  await clock.sleep(wait)
  const v = await httpJson('GET', `${input.url}/api/version`, 5000)
  const vps = await httpJson('GET', `${input.url}/api/ps`, input.psTimeoutMs)
  const after = vps.kind === 'ok' ? parsePs(vps.body) : null
  let verified = v.kind === 'ok' && v.status === 200
  let how = verified ? 'API up' : `API ${v.kind === 'ok' ? `HTTP ${v.status}` : v.detail}`
  if (verified && after && after.length > 0) {
    const c2 = await canary(input.url, after[0], input.canaryTimeoutMs)
    verified = c2.ok
    how += `; ${c2.detail}`
  } else if (verified) how += after ? '; nothing loaded (fresh)' : '; /api/ps inconclusive'
  actions.push({action: 'verify', target: input.url, result: `${verified ? 'ok' : 'failed'}: ${how}`, ms: Math.round(clock.now() - t0)})
  return finish(verified ? 'RECOVERED' : 'ALERT', verified ? `frozen for ${formatMs(step.frozenForMs)}; ${acted.detail}; verified (${how})` : `frozen for ${formatMs(step.frozenForMs)}; ${acted.detail} did not help: ${how}`)
}

async function captureDiagnostics(input: OllamaInput, deps: OllamaDeps, psText: string, nvidia: NvidiaResult | null, runners: number[]): Promise<string> {
  const dir = join(input.diagDir, `diag-${utcStamp(deps.clock.wall())}`)
  const put = (name: string, text: string) => {
    try {
      writeFileAtomic(join(dir, name), text)
    } catch {}
  }
  put('ps.json', psText)
  put('nvidia-smi.txt', nvidia ? (nvidia.kind === 'ok' ? nvidia.raw : JSON.stringify(nvidia)) : 'not queried')
  const dump = (p: string) => {
    try {
      return readFileSync(p, 'latin1')
    } catch {
      return ''
    }
  }
  for (const pid of runners) put(`runner-${pid}-status.txt`, [dump(`/proc/${pid}/status`), dump(`/proc/${pid}/stack`)].join('\n'))
  const logs = deps.manager.kind === 'docker'
    ? await run(['docker', 'logs', '--tail', '200', input.unit], {timeoutMs: 10_000})
    : await run(['journalctl', '-u', input.unit, '--no-pager', '-n', '200'], {timeoutMs: 10_000})
  put('log.txt', logs.missing ? 'no log source' : logs.stdout + logs.stderr)
  return dir
}

/** `--watch`: a pass every --interval; a verdict line only when the status changes. */
export async function frozenWatch(input: OllamaInput, deps: OllamaDeps, intervalMs: number): Promise<Verdict> {
  return watchLoop(() => frozenCheck(input, deps), {announce: deps.announce, intervalMs, subject: 'OLLAMA'})
}

export interface MetricsInput {
  url: string
  nvidiaTimeoutMs: number
  file: string | null
}

/** `medic ollama metrics`: the exporter, to its own file (never the monitor's). */
export async function ollamaMetrics(input: MetricsInput, deps: {announce: (l: string) => void}): Promise<{verdict: Verdict; text: string}> {
  const [tags, ps] = await Promise.all([httpJson('GET', `${input.url}/api/tags`, 10_000), httpJson('GET', `${input.url}/api/ps`, 10_000)])
  const up = tags.kind === 'ok' && tags.status === 200
  const installed = up ? parseTags((tags as {body: unknown}).body) : null
  const loaded = ps.kind === 'ok' && ps.status === 200 ? parsePs(ps.body) : null
  const n = await queryNvidia(input.nvidiaTimeoutMs, 1, 0)
  const text = renderFamilies(exporterFamilies({up, installed, loaded, gpus: n.kind === 'ok' ? n.gpus : null}))
  if (input.file) writeFileAtomic(input.file, text)
  const gpuText = n.kind === 'ok' ? `${n.gpus.length} GPU(s)` : n.kind === 'missing' ? 'no nvidia-smi' : n.detail
  const verdict: Verdict = {
    subject: 'OLLAMA', status: up ? 'OK' : 'ALERT',
    summary: `${up ? `up: ${installed?.length ?? 0} installed, ${loaded?.length ?? 0} loaded` : `down: ${tags.kind === 'ok' ? `HTTP ${tags.status}` : tags.detail}`}; ${gpuText}${input.file ? `; wrote ${input.file}` : ''}`,
    checks: [{name: 'api', status: up ? 'OK' : 'ALERT', detail: `${input.url}/api/tags`}, {name: 'gpu', status: n.kind === 'hang' || n.kind === 'failed' ? 'ALERT' : 'OK', detail: gpuText}],
    actions: [],
  }
  void deps
  return {verdict, text}
}
