/**
 * Prometheus text exposition (format 0.0.4) for node_exporter's textfile collector:
 * one HELP and one TYPE per family, no empty, null or N/A samples (a sample without a
 * finite value is left out), escaped label values, a final newline.
 */

export interface Sample {
  labels?: Record<string, string>
  value: number | null | undefined
}

export interface Family {
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v)
  return String(Number(v.toPrecision(12)))
}

export function renderFamilies(families: Family[]): string {
  const seen = new Set<string>()
  const lines: string[] = []
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`bad metric name ${f.name}`)
    if (seen.has(f.name)) throw new Error(`family ${f.name} twice`)
    seen.add(f.name)
    const samples = f.samples.filter((s) => typeof s.value === 'number' && Number.isFinite(s.value))
    if (samples.length === 0) continue
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`)
    for (const s of samples) {
      const labels = Object.entries(s.labels ?? {})
      for (const [k] of labels) if (!LABEL.test(k)) throw new Error(`bad label name ${k}`)
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : ''
      lines.push(`${f.name}${l} ${formatNumber(s.value as number)}`)
    }
  }
  return lines.join('\n') + '\n'
}

/**
 * A checker that enforces what node_exporter and promtool enforce on a textfile: valid
 * names, HELP/TYPE at most once and before the samples of their family, samples grouped
 * by family, parsable values, no duplicate series. Returns the problems found.
 */
export function lintExposition(text: string): string[] {
  const problems: string[] = []
  if (text.length > 0 && !text.endsWith('\n')) problems.push('missing final newline')
  const help = new Set<string>()
  const type = new Map<string, string>()
  const series = new Set<string>()
  const closed = new Set<string>()
  let current: string | null = null
  text.split('\n').forEach((line, i) => {
    const n = i + 1
    if (line === '') return
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta
      if (!NAME.test(name)) problems.push(`line ${n}: bad metric name ${name}`)
      if (kind === 'HELP') {
        if (help.has(name)) problems.push(`line ${n}: second HELP for ${name}`)
        help.add(name)
      } else {
        if (type.has(name)) problems.push(`line ${n}: second TYPE for ${name}`)
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest ?? '')) problems.push(`line ${n}: bad TYPE ${rest}`)
        if (series.has(name) || [...series].some((s) => s.startsWith(`${name}{`))) problems.push(`line ${n}: TYPE after samples of ${name}`)
        type.set(name, rest ?? '')
      }
      return
    }
    if (line.startsWith('#')) return
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(line)
    if (!m) {
      problems.push(`line ${n}: not a sample: ${line}`)
      return
    }
    const [, name, labels = '', value] = m
    if (!/^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?Inf|NaN)$/.test(value)) problems.push(`line ${n}: bad value ${value}`)
    if (labels && !/^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*,?)?\}$/.test(labels)) problems.push(`line ${n}: bad labels ${labels}`)
    if (type.get(name) === 'counter' && Number(value) < 0) problems.push(`line ${n}: negative counter ${name}`)
    const key = name + labels
    if (series.has(key)) problems.push(`line ${n}: duplicate series ${key}`)
    series.add(key)
    if (current !== name) {
      if (closed.has(name)) problems.push(`line ${n}: samples of ${name} not grouped together`)
      if (current) closed.add(current)
      current = name
    }
  })
  return problems
}
