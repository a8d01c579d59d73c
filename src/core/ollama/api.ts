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

/** A runner process, across Ollama's eras: ollama_llama_server; `ollama runner`; llama-server. */
export function isRunnerCmdline(comm: string, argv: string[]): boolean {
  if (comm.startsWith('ollama_llama_se') || /(^|\/)ollama_llama_server$/.test(argv[0] ?? '')) return true
  if (comm === 'llama-server' || /(^|\/)llama-server$/.test(argv[0] ?? '')) return true
  const hasPort = argv.includes('--port')
  return hasPort && (argv.includes('--model') || argv.slice(1, 3).includes('runner'))
}
