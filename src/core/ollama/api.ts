/** Shapes of Ollama's API answers that the checks read (docs/api.md). */

export interface LoadedModel {
  name: string
  model: string
  size: number
  sizeVram: number
  digest: string
  expiresAt: string | null
  contextLength: number | null
}

export function parsePs(body: unknown): LoadedModel[] | null {
  const models = (body as {models?: unknown})?.models
  if (!Array.isArray(models)) return null
  return models.map((m: Record<string, unknown>) => ({
    name: String(m.name ?? m.model ?? ''),
    model: String(m.model ?? m.name ?? ''),
    size: Number(m.size ?? 0) || 0,
    sizeVram: Number(m.size_vram ?? 0) || 0,
    digest: String(m.digest ?? ''),
    expiresAt: typeof m.expires_at === 'string' ? m.expires_at : null,
    contextLength: typeof m.context_length === 'number' ? m.context_length : null,
  }))
}

export interface InstalledModel {
  name: string
  size: number
}

export function parseTags(body: unknown): InstalledModel[] | null {
  const models = (body as {models?: unknown})?.models
  if (!Array.isArray(models)) return null
  return models.map((m: Record<string, unknown>) => ({name: String(m.name ?? m.model ?? ''), size: Number(m.size ?? 0) || 0}))
}

/**
 * The Ollama server by identity, never by a name: its executable is `ollama` (the exe's
 * basename; ` (deleted)` after an upgrade replaced it on disk) run with `serve`, or it
 * lives in the cgroup of the unit medic manages (`unit`, systemd only). A process merely
 * named like Ollama (`python3 ollama_proxy.py`, `node ollama-bridge.js`) is neither.
 */
export function isOllamaServer(p: {exe: string | null; argv: string[]; cgroup: string | null}, unit: string | null): boolean {
  const exe = (p.exe ?? '').replace(/ \(deleted\)$/, '')
  if (exe.slice(exe.lastIndexOf('/') + 1) === 'ollama' && p.argv.slice(1).includes('serve')) return true
  if (!unit || !p.cgroup) return false
  const leaf = p.cgroup.slice(p.cgroup.lastIndexOf('/') + 1)
  return leaf === unit || leaf === `${unit}.service`
}

/** A runner process, across Ollama's eras: ollama_llama_server; `ollama runner`; llama-server. */
export function isRunnerCmdline(comm: string, argv: string[]): boolean {
  if (comm.startsWith('ollama_llama_se') || /(^|\/)ollama_llama_server$/.test(argv[0] ?? '')) return true
  if (comm === 'llama-server' || /(^|\/)llama-server$/.test(argv[0] ?? '')) return true
  const hasPort = argv.includes('--port')
  return hasPort && (argv.includes('--model') || argv.slice(1, 3).includes('runner'))
}
