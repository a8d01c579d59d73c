/**
 * The limits and patterns of `medic guard`, and the one config file `medic isolation`
 * writes and the guard and run-dev-safe read (docs/contract.md, GUARD). Pure: text in,
 * values or reasons out.
 *
 * Two tables come from the seed (research/seed-scripts.md §11–12):
 * - resource_protector.py's own LIMITS (cpu/mem/disk %, startup grace) — the guard's
 *   defaults when no config is given;
 * - setup_resource_isolation.sh's LIMITS_BY_MODE (cpu/mem %, kill-cpu %, grace, "prefer nice
 *   over kill") — what `medic isolation` writes, so that what the setup generates is what
 *   the guard enforces (the seed's generated config was read by nothing).
 */

export const MODES = ['dev', 'test', 'prod'] as const
export type Mode = (typeof MODES)[number]

export function isMode(s: unknown): s is Mode {
  return typeof s === 'string' && (MODES as readonly string[]).includes(s)
}

export interface Limits {
  /** Whole-host CPU busy % (all cores). */
  cpuPercent: number
  /** Memory in use, 100 × (MemTotal − MemAvailable) / MemTotal. */
  memoryPercent: number
  /** Use of each watched filesystem. */
  diskPercent: number
  /** PSI memory `full avg10` at or above which memory counts as over (null: not used). systemd-oomd's default is 60. */
  memoryPressurePercent: number | null
  /** PSI cpu `some avg10` at or above which CPU counts as over (null: reported only). */
  cpuPressurePercent: number | null
  /** A process is a CPU offender from this % of one core (the protector's 80). */
  candidateCpuPercent: number
  /** A CPU offender is signalled only above this (the protector's 90; isolation's kill-cpu). */
  killCpuPercent: number
  /** A process is a memory offender from this resident size (the protector's 100 MB). */
  candidateRssMiB: number
  /** Nothing is done this long after the guard starts (one pass: after boot). */
  startupGraceSeconds: number
  /** CPU offenders are reniced, never signalled (isolation's prefer_nice_over_kill). */
  preferNice: boolean
}

const base = {memoryPressurePercent: 60, cpuPressurePercent: null, candidateCpuPercent: 80, candidateRssMiB: 100}

/** resource_protector.py's LIMITS (its memory_mb_absolute and max_processes were never used). */
export const PROTECTOR_LIMITS: Record<Mode, Limits> = {
  dev: {...base, cpuPercent: 75, memoryPercent: 80, diskPercent: 90, killCpuPercent: 90, startupGraceSeconds: 60, preferNice: false},
  test: {...base, cpuPercent: 85, memoryPercent: 85, diskPercent: 90, killCpuPercent: 90, startupGraceSeconds: 30, preferNice: false},
  prod: {...base, cpuPercent: 95, memoryPercent: 95, diskPercent: 95, killCpuPercent: 90, startupGraceSeconds: 120, preferNice: false},
}

/** setup_resource_isolation.sh's LIMITS_BY_MODE; disk (which it lacks) from the protector. */
export const ISOLATION_LIMITS: Record<Mode, Limits> = {
  dev: {...base, cpuPercent: 80, memoryPercent: 85, diskPercent: 90, killCpuPercent: 95, startupGraceSeconds: 60, preferNice: true},
  test: {...base, cpuPercent: 85, memoryPercent: 88, diskPercent: 90, killCpuPercent: 90, startupGraceSeconds: 30, preferNice: true},
  prod: {...base, cpuPercent: 95, memoryPercent: 95, diskPercent: 95, killCpuPercent: 98, startupGraceSeconds: 120, preferNice: false},
}

/**
 * Dev jobs never touched: the union of the protector's `_is_dev_script` list and the
 * setup script's DEV_SCRIPT_PATTERNS (literal, case-insensitive substrings of the command
 * line, as in the seed), plus medic's own wrapper.
 */
export const DEV_PATTERNS: readonly string[] = [
  'pytest', '03_run_500_cycles', '03_test_50_cycles', 'MASTER_RECOVERY', 'integration_cycles', 'jupyter',
  'python -m unittest', 'scripts/recovery', 'robust_consciousness_validation', 'run_dev_safe', 'omnimind_dev_script', 'run-dev-safe',
]

/**
 * Daemons never touched: the setup script's DAEMON_PATTERNS and the protector's CPU-path
 * exclusions, without its two over-broad words ("daemon", "omnimind": any path matched).
 */
export const DAEMON_PATTERNS: readonly string[] = [
  'uvicorn', 'qdrant', 'redis', 'observer_service', 'resource_protector', 'web.backend.main', 'mcp_orchestrator', 'run_cluster', 'main_cycle',
]

/** The environment flag the seed's run_dev_safe.sh set and its protector read through /proc/<pid>/environ. */
export const DEV_ENV_FLAG = {name: 'OMNIMIND_DEV_SCRIPT_MODE', value: 'true'} as const

/** A literal substring as a case-insensitive pattern (the seed matched substrings, case-insensitively). */
export function literalPattern(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i')
}

export interface RunDevSafeDefaults {
  nice: number
  /** Bytes, or null: no memory limit. */
  memoryMax: number | null
  /** cgroup v2 cpu.weight (1–10000, 100 = normal), or null. */
  cpuWeight: number | null
}

/** The guard's side of the config, after validation and defaults. */
export interface GuardConfig {
  /** Where it came from (null: built-in defaults). */
  path: string | null
  mode: Mode | null
  limits: Record<Mode, Limits>
  devPatterns: string[]
  daemonPatterns: string[]
  /** The nice level dev jobs run at (OMNIMIND_DEV_SCRIPT_NICE). */
  nice: number
  runDevSafe: RunDevSafeDefaults
  /** Extra never-signal patterns (regular expressions), as in medic's config file. */
  protect: string[]
}

export function defaultGuardConfig(): GuardConfig {
  return {path: null, mode: null, limits: clone(PROTECTOR_LIMITS), devPatterns: [...DEV_PATTERNS], daemonPatterns: [...DAEMON_PATTERNS], nice: 10, runDevSafe: {nice: 10, memoryMax: null, cpuWeight: null}, protect: []}
}

function clone<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T
}

/** The marker of a file `medic isolation` wrote (and may rewrite). */
export const WRITTEN_BY = 'medic isolation'
export const ISOLATION_FILE = 'medic.isolation.json'
/** The seed's env file name (setup_resource_isolation.sh wrote $PROJECT_ROOT/.env.resource_config). */
export const ENV_FILE = '.env.resource_config'
/** The variable the env file exports and guard / run-dev-safe read as their --config. */
export const CONFIG_ENV = 'MEDIC_ISOLATION_CONFIG'

const LIMIT_KEYS: Record<keyof Limits, 'percent' | 'percentOrNull' | 'count' | 'bool'> = {
  cpuPercent: 'percent', memoryPercent: 'percent', diskPercent: 'percent', memoryPressurePercent: 'percentOrNull', cpuPressurePercent: 'percentOrNull',
  candidateCpuPercent: 'count', killCpuPercent: 'count', candidateRssMiB: 'count', startupGraceSeconds: 'count', preferNice: 'bool',
}

/**
 * Validates a config object (the parsed JSON of the file): every key known, every value in
 * range — a typo must not silently leave a limit at its default. Limits given for a mode
 * replace the defaults key by key.
 */
export function parseGuardConfig(data: unknown, path: string, defaults: Record<Mode, Limits> = PROTECTOR_LIMITS): {ok: true; config: GuardConfig} | {ok: false; reason: string} {
  const bad = (why: string) => ({ok: false as const, reason: `${path}: ${why}`})
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('expected a JSON object')
  const o = data as Record<string, unknown>
  const known = new Set(['writtenBy', 'version', 'mode', 'limits', 'devPatterns', 'daemonPatterns', 'nice', 'runDevSafe', 'protect', 'services', '$comment'])
  for (const k of Object.keys(o)) if (!known.has(k)) return bad(`unknown key ${JSON.stringify(k)}`)
  if (o.version !== undefined && o.version !== 1) return bad(`version ${JSON.stringify(o.version)} is not 1`)
  const cfg = defaultGuardConfig()
  cfg.path = path
  cfg.limits = clone(defaults)
  if (o.mode !== undefined) {
    if (!isMode(o.mode)) return bad(`mode must be one of ${MODES.join(', ')}, not ${JSON.stringify(o.mode)}`)
    cfg.mode = o.mode
  }
  if (o.limits !== undefined) {
    if (typeof o.limits !== 'object' || o.limits === null || Array.isArray(o.limits)) return bad('limits must map a mode to its limits')
    for (const [mode, lim] of Object.entries(o.limits as Record<string, unknown>)) {
      if (!isMode(mode)) return bad(`limits: unknown mode ${JSON.stringify(mode)}`)
      if (typeof lim !== 'object' || lim === null || Array.isArray(lim)) return bad(`limits.${mode} must be an object`)
      for (const [k, v] of Object.entries(lim as Record<string, unknown>)) {
        const kind = LIMIT_KEYS[k as keyof Limits]
        if (!kind) return bad(`limits.${mode}: unknown key ${JSON.stringify(k)}`)
        const where = `limits.${mode}.${k}`
        if (kind === 'bool') {
          if (typeof v !== 'boolean') return bad(`${where} must be true or false`)
        } else if (v === null && kind === 'percentOrNull') {
          // off
        } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || ((kind === 'percent' || kind === 'percentOrNull') && v > 100) || (kind === 'count' && v > 1e7)) {
          return bad(`${where} must be a number${kind === 'count' ? ' ≥ 0' : ' from 0 to 100'}${kind === 'percentOrNull' ? ' or null' : ''}`)
        }
        ;(cfg.limits[mode] as unknown as Record<string, unknown>)[k] = v
      }
    }
  }
  for (const key of ['devPatterns', 'daemonPatterns', 'protect'] as const) {
    const v = o[key]
    if (v === undefined) continue
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '' || x.length > 200)) return bad(`${key} must be a list of non-empty strings`)
    if (key === 'protect') {
      for (const p of v as string[]) {
        try {
          new RegExp(p)
        } catch {
          return bad(`protect: ${JSON.stringify(p)} is not a regular expression`)
        }
      }
    }
    cfg[key] = [...(v as string[])]
  }
  const niceOk = (n: unknown) => Number.isInteger(n) && (n as number) >= -20 && (n as number) <= 19
  if (o.nice !== undefined) {
    if (!niceOk(o.nice)) return bad('nice must be an integer from -20 to 19')
    cfg.nice = o.nice as number
    cfg.runDevSafe.nice = o.nice as number
  }
  if (o.runDevSafe !== undefined) {
    const r = o.runDevSafe as Record<string, unknown>
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return bad('runDevSafe must be an object')
    for (const k of Object.keys(r)) if (!['nice', 'memoryMax', 'cpuWeight'].includes(k)) return bad(`runDevSafe: unknown key ${JSON.stringify(k)}`)
    if (r.nice !== undefined) {
      if (!niceOk(r.nice)) return bad('runDevSafe.nice must be an integer from -20 to 19')
      cfg.runDevSafe.nice = r.nice as number
    }
    if (r.memoryMax !== undefined && r.memoryMax !== null) {
      if (!Number.isInteger(r.memoryMax) || (r.memoryMax as number) < MIN_MEMORY_MAX) return bad(`runDevSafe.memoryMax must be a number of bytes ≥ ${MIN_MEMORY_MAX} or null`)
      cfg.runDevSafe.memoryMax = r.memoryMax as number
    }
    if (r.cpuWeight !== undefined && r.cpuWeight !== null) {
      if (!Number.isInteger(r.cpuWeight) || (r.cpuWeight as number) < 1 || (r.cpuWeight as number) > 10000) return bad('runDevSafe.cpuWeight must be an integer from 1 to 10000 or null')
      cfg.runDevSafe.cpuWeight = r.cpuWeight as number
    }
  }
  return {ok: true, config: cfg}
}

/** Below this a cgroup's memory limit only kills the shim that enters it. */
export const MIN_MEMORY_MAX = 4 * 1024 * 1024

/** The file `medic isolation` writes: the isolation table for every mode, so a later mode change keeps hand edits. */
export function isolationDocument(o: {mode: Mode; limits?: Record<Mode, Limits>; devPatterns?: string[]; daemonPatterns?: string[]; nice?: number; runDevSafe?: RunDevSafeDefaults; protect?: string[]}): string {
  const doc = {
    $comment: 'Written by medic isolation; read by medic guard and medic run-dev-safe (--config FILE or $MEDIC_ISOLATION_CONFIG). Edit freely: medic isolation keeps your limits and patterns when it changes the mode.',
    writtenBy: WRITTEN_BY,
    version: 1,
    mode: o.mode,
    limits: o.limits ?? ISOLATION_LIMITS,
    devPatterns: o.devPatterns ?? [...DEV_PATTERNS],
    daemonPatterns: o.daemonPatterns ?? [...DAEMON_PATTERNS],
    nice: o.nice ?? 10,
    runDevSafe: o.runDevSafe ?? {nice: o.nice ?? 10, memoryMax: null, cpuWeight: null},
    protect: o.protect ?? [],
  }
  return JSON.stringify(doc, null, 2) + '\n'
}

/** Single-quoted for sh: nothing inside is expanded. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * The env file: every line `export`ed (the seed's lacked it, so `source` set shell
 * variables no child inherited). The seed's OMNIMIND_* names are kept for its scripts.
 */
export function envFileText(o: {configPath: string; envPath: string; mode: Mode; devPatterns: string[]; nice: number}): string {
  const lines: [string, string][] = [
    [CONFIG_ENV, o.configPath],
    ['MEDIC_GUARD_MODE', o.mode],
    ['OMNIMIND_RESOURCE_PROTECTOR_MODE', o.mode],
    ['OMNIMIND_DEV_PATTERNS', o.devPatterns.join('|')],
    ['OMNIMIND_ENABLE_DEV_ISOLATION', 'true'],
    ['OMNIMIND_DEV_SCRIPT_NICE', String(o.nice)],
    ['OMNIMIND_PROTECT_FROM_SIGKILL', 'true'],
    ['OMNIMIND_ALLOW_DAEMON_SELF_HEAL', 'true'],
  ]
  return `# Written by medic isolation. Load it with:  . ${shQuote(o.envPath)}\n${lines.map(([k, v]) => `export ${k}=${shQuote(v)}`).join('\n')}\n`
}
