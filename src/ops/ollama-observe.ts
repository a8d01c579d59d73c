import {isOllamaServer, isRunnerCmdline, parsePs, type LoadedModel} from '../core/ollama/api.js'
import {ollamaEndpoint} from '../core/ollama/host.js'
import type {Probe} from '../core/ollama/metrics.js'
import {procDeltas, vramBaseline, vramDelta, type ProcSample} from '../core/ollama/progress.js'
import {stallSigns, type DownHow, type GpuObservation, type OllamaObservation, type RunnerSample} from '../core/ollama/policy.js'
import type {ListenerFacts} from '../core/ollama/remedy.js'
import {httpJson, type HttpResult} from '../sys/http-json.js'
import {queryNvidia, type NvidiaResult} from '../sys/nvidia-smi.js'
import type {ProcessDeps} from '../deps.js'

/** What the previous pass left: CPU samples by `pid:starttime`, VRAM by GPU uuid. */
export interface PreviousSamples {
  samples?: Record<string, ProcSample>
  vramMiB?: Record<string, number>
}

export interface ObserveInput {
  url: string
  port: number
  /** Medic may look at (and signal) the server's processes: a local URL, not `--manager ssh`. */
  visible: boolean
  probeTimeoutMs: number
  psTimeoutMs: number
  nvidiaTimeoutMs: number
  /** The systemd unit medic manages Ollama by (its cgroup identifies the server), or null. */
  serverUnit: string | null
}

export interface Listener extends ListenerFacts {
  startTime: string
}

export interface Runner extends RunnerSample {
  comm: string
}

export interface Observation {
  obs: OllamaObservation
  upDetail: string
  ps: HttpResult | null
  models: LoadedModel[] | null
  listeners: Listener[]
  invisibleListener: boolean
  runners: Runner[]
  otherServers: number
  nvidia: NvidiaResult | null
  samples: Record<string, ProcSample>
  vramMiB: Record<string, number>
  probes: Probe[]
}


function sampleProcess(pid: number, at: number, procs: ProcessDeps['procs']): ProcSample | null {
  const st = procs.stat(pid)
  if (!st) return null
  return {at, ticks: st.utimeTicks + st.stimeTicks, threads: procs.threadTicks(pid), readBytes: procs.readBytes(pid)}
}

function downHow(r: HttpResult): DownHow {
  return r.kind === 'refused' ? 'refused' : r.kind === 'timeout' ? 'timeout' : 'error'
}

/**
 * One look at Ollama: liveness (/api/version), then — only when it answered — inventory
 * (/api/ps, which may block on a loading runner); the server (the LISTEN owner of the API
 * port, never a client of it) and its runners with CPU deltas since the previous pass;
 * and, when a model is loaded and a stall is possible at all, one nvidia-smi reading. A down API skips /api/ps: its
 * timeout would only add to a pass that already knows the answer.
 */
export async function observeOllama(input: ObserveInput, deps: ProcessDeps, prev: PreviousSamples | null, now: number): Promise<Observation> {
  const [version, ports] = await Promise.all([
    httpJson('GET', `${input.url}/api/version`, input.probeTimeoutMs),
    input.visible ? deps.ports.listeners(input.port) : Promise.resolve(null),
  ])
  const up = version.kind === 'ok' && version.status === 200
  const upDetail = version.kind === 'ok' ? `HTTP ${version.status} ${JSON.stringify(version.body ?? version.text.slice(0, 40))}` : version.detail
  const ps = up ? await httpJson('GET', `${input.url}/api/ps`, input.psTimeoutMs) : null
  const models = ps && ps.kind === 'ok' && ps.status === 200 ? parsePs(ps.body) : null
  const psObs: OllamaObservation['ps'] = !ps ? {kind: 'error', detail: 'not asked: API down'} : ps.kind === 'timeout' ? {kind: 'timeout', detail: ps.detail} : models ? {kind: 'ok', models} : {kind: 'error', detail: ps.kind === 'ok' ? `HTTP ${ps.status}` : ps.detail}

  const listenerPids = ports?.pids ?? []
  // Who may be signalled matters only when the API is down (a stopped server): then the
  // signal gate says, as it will again before each signal.
  const listeners: Listener[] = []
  for (const pid of listenerPids) {
    const seen = up ? {proc: deps.procs.get(pid), refusal: null} : (deps.gate.inspect(pid) ?? {proc: null, refusal: null})
    const p = seen.proc
    if (!p) continue
    listeners.push({pid, startTime: p.startTime, state: p.state, comm: p.comm, isOllama: isOllamaServer({exe: deps.procs.exe(pid), argv: p.cmdline, cgroup: deps.procs.cgroup2(pid)}, input.serverUnit), refusal: seen.refusal?.reason ?? null})
  }
  const servers = new Set(listenerPids)
  const samples: Record<string, ProcSample> = {}
  // Runners only under a listener that is the Ollama server by identity (or in the managed
  // unit's cgroup): a proxy's child with runner-like argv is not Ollama's runner.
  const ollamaPids = listeners.filter((l) => l.isOllama).map((l) => l.pid)
  const runners: Runner[] = deps.procs.descendants(ollamaPids).filter((pid) => !servers.has(pid)).map((pid) => deps.procs.get(pid)).filter((p) => p !== null && isRunnerCmdline(p.comm, p.cmdline)).map((p) => {
    const key = `${p!.pid}:${p!.startTime}`
    const s = sampleProcess(p!.pid, now, deps.procs)
    if (s) samples[key] = s
    return {pid: p!.pid, startTime: p!.startTime, state: p!.state, comm: p!.comm, ...procDeltas(prev?.samples?.[key], s)}
  })
  // Refused with nothing on the port: is an Ollama server for this port there at all (starting,
  // or bound elsewhere)? One by identity whose OLLAMA_HOST (as Ollama reads it) names this port.
  const otherServers = input.visible && !up && listeners.length === 0 && version.kind === 'refused'
    ? deps.procs.list().map((pid) => deps.procs.get(pid)).filter((p) => p && p.cmdline.includes('serve') && isOllamaServer({exe: deps.procs.exe(p.pid), argv: p.cmdline, cgroup: deps.procs.cgroup2(p.pid)}, input.serverUnit) && ollamaEndpoint(deps.procs.envVar(p.pid, 'OLLAMA_HOST') ?? undefined).port === input.port).length
    : 0

  const loaded = models ?? []
  let nvidia: NvidiaResult | null = null
  // Not asked this pass: the last reading stays the baseline for the next VRAM delta.
  let vramMiB: Record<string, number> = {...(prev?.vramMiB ?? {})}
  const signs = stallSigns(loaded, runners, now)
  let gpu: GpuObservation = {kind: 'none', detail: loaded.length ? 'not queried: nothing pending, no runner spinning' : 'not queried: no model loaded'}
  if (up && loaded.length > 0 && (signs.pending || signs.spinning)) {
    nvidia = await queryNvidia(input.nvidiaTimeoutMs)
    if (nvidia.kind === 'missing') gpu = {kind: 'none', detail: 'nvidia-smi not found: CPU mode'}
    else if (nvidia.kind !== 'ok') gpu = {kind: nvidia.kind, detail: nvidia.detail}
    else {
      const pids = new Set([...runners.map((r) => r.pid), ...listenerPids])
      const runnerGpus = [...new Set(nvidia.apps.filter((a) => pids.has(a.pid)).map((a) => a.gpuUuid))]
      const prevV = prev?.vramMiB ?? {}
      vramMiB = vramBaseline(prevV, nvidia.gpus)
      gpu = {kind: 'ok', gpus: nvidia.gpus, runnerGpus, heldByNoProcessMiB: 0, vramDeltaMiB: vramDelta(prevV, nvidia.gpus)}
    }
  }
  const probes: Probe[] = [{endpoint: '/api/version', ms: up ? version.ms : null}, ...(ps ? [{endpoint: '/api/ps', ms: ps.kind === 'ok' && ps.status === 200 ? ps.ms : null}] : [])]
  return {
    obs: {now, up: up ? {ok: true, detail: upDetail} : {ok: false, how: downHow(version), detail: upDetail}, ps: psObs, gpu, runners},
    upDetail, ps, models, listeners, invisibleListener: ports?.invisible ?? false, runners, otherServers, nvidia, samples, vramMiB, probes,
  }
}
