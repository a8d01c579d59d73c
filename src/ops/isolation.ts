import {resolve} from 'node:path'
import {CONFIG_ENV, envFileText, ISOLATION_FILE, ISOLATION_LIMITS, isolationDocument, parseGuardConfig, WRITTEN_BY, type Mode, type RunDevSafeDefaults} from '../core/guard-config.js'
import type {Verdict} from '../core/verdict.js'

/**
 * `medic isolation [PROJECT_ROOT] [dev|test|prod]`: setup_resource_isolation.sh's intent —
 * ONE config (the guard's limits per mode, the dev and daemon patterns, the nice level,
 * run-dev-safe's defaults) that the guard and run-dev-safe actually read, written
 * atomically and only when it changes (running it twice changes nothing), never a source
 * file; an env file whose lines are `export`ed if asked. A file of the same name that
 * medic did not write is never replaced. A mode change keeps hand-edited limits and
 * patterns (--reset starts from the defaults).
 */

export interface IsolationInput {
  root: string
  mode: Mode
  envFile: string | null
  reset: boolean
  dryRun: boolean
  runDevSafe: Partial<RunDevSafeDefaults>
}

export interface IsolationFiles {
  read(path: string): string | null
  isDirectory(path: string): boolean
  write(path: string, text: string): void
}

const ENV_MARK = '# Written by medic isolation.'

export function isolation(input: IsolationInput, files: IsolationFiles): Verdict {
  const bad = (summary: string): Verdict => ({subject: 'GUARD', status: 'UNKNOWN', summary, checks: [], actions: [], usageError: true})
  const refuse = (summary: string): Verdict => ({subject: 'GUARD', status: 'ALERT', summary, checks: [], actions: []})
  const root = resolve(input.root)
  if (!files.isDirectory(root)) return bad(`${root} is not a directory (the project root)`)
  const configPath = resolve(root, ISOLATION_FILE)
  const envPath = input.envFile === null ? null : resolve(root, input.envFile)
  if (envPath === configPath) return bad('--write-env-file names the config file itself')

  let oldText: string | null
  try {
    oldText = files.read(configPath)
  } catch (e) {
    return refuse(`cannot read ${configPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let base = {mode: input.mode} as Parameters<typeof isolationDocument>[0]
  if (oldText !== null) {
    let data: unknown
    try {
      data = JSON.parse(oldText)
    } catch {
      data = null
    }
    if ((data as {writtenBy?: unknown} | null)?.writtenBy !== WRITTEN_BY) return refuse(`${configPath} exists and was not written by medic isolation: not replaced (move it away first)`)
    if (!input.reset) {
      const r = parseGuardConfig(data, configPath, ISOLATION_LIMITS)
      if (!r.ok) return refuse(`${r.reason} — fix it, or start again from the defaults with --reset`)
      const c = r.config
      base = {mode: input.mode, limits: c.limits, devPatterns: c.devPatterns, daemonPatterns: c.daemonPatterns, nice: c.nice, runDevSafe: c.runDevSafe, protect: c.protect}
    }
  }
  const rds = {...(base.runDevSafe ?? {nice: base.nice ?? 10, memoryMax: null, cpuWeight: null}), ...input.runDevSafe}
  const text = isolationDocument({...base, nice: input.runDevSafe.nice ?? base.nice, runDevSafe: rds})
  const doc = parseGuardConfig(JSON.parse(text), configPath, ISOLATION_LIMITS)
  if (!doc.ok) return bad(doc.reason)
  const cfg = doc.config
  const writes: {path: string; text: string; old: string | null}[] = [{path: configPath, text, old: oldText}]
  if (envPath) {
    let old: string | null
    try {
      old = files.read(envPath)
    } catch (e) {
      return refuse(`cannot read ${envPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    if (old !== null && !old.startsWith(ENV_MARK)) return refuse(`${envPath} exists and was not written by medic isolation: not replaced (move it away first)`)
    writes.push({path: envPath, text: envFileText({configPath, envPath, mode: input.mode, devPatterns: cfg.devPatterns, nice: cfg.nice}), old})
  }
  const changed = writes.filter((w) => w.old !== w.text)
  const actions = []
  for (const w of changed) {
    if (input.dryRun) {
      actions.push({action: 'write', target: w.path, result: 'dry run: not written', ms: 0})
      continue
    }
    try {
      files.write(w.path, w.text)
      actions.push({action: 'write', target: w.path, result: w.old === null ? 'created' : 'replaced atomically', ms: 0})
    } catch (e) {
      return {...refuse(`cannot write ${w.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`), actions}
    }
  }
  const l = cfg.limits[input.mode]
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  const how = [
    `medic guard --config ${q(configPath)} --watch 2s --enforce   # mode ${input.mode}: memory ${l.memoryPercent} %, cpu ${l.cpuPercent} % (kill-cpu ${l.killCpuPercent} %${l.preferNice ? ', renice only' : ''}), disk ${l.diskPercent} %, startup grace ${l.startupGraceSeconds} s`,
    `medic run-dev-safe --config ${q(configPath)} -- CMD ARGS...   # nice ${cfg.runDevSafe.nice}${cfg.runDevSafe.memoryMax !== null ? `, memory-max ${cfg.runDevSafe.memoryMax} bytes` : ''}${cfg.runDevSafe.cpuWeight !== null ? `, cpu-weight ${cfg.runDevSafe.cpuWeight}` : ''}; protected from the guard`,
    envPath
      ? `or once per shell: . ${q(envPath)}   # exports ${CONFIG_ENV} and MEDIC_GUARD_MODE: plain "medic guard" and "medic run-dev-safe" then read it (and the seed's OMNIMIND_* variables, exported)`
      : `or: export ${CONFIG_ENV}=${q(configPath)}   # then plain "medic guard" and "medic run-dev-safe" read it (--write-env-file FILE writes this for you)`,
  ]
  const what = changed.length === 0 ? 'unchanged' : input.dryRun ? 'would write' : 'wrote'
  return {
    subject: 'GUARD', status: 'OK',
    summary: `${what} ${writes.map((w) => w.path).join(' and ')} (mode ${input.mode})${input.dryRun && changed.length ? ' — dry run' : ''}`,
    checks: writes.map((w) => ({name: w.path === configPath ? 'config' : 'env file', status: 'OK' as const, detail: `${w.path}: ${w.old === w.text ? 'already up to date' : input.dryRun ? 'would be written' : w.old === null ? 'created' : 'updated'}`})),
    actions, details: how, printDetails: true,
    extra: {config: configPath, envFile: envPath, mode: input.mode, changed: changed.map((w) => w.path), dryRun: input.dryRun, limits: l, runDevSafe: cfg.runDevSafe, devPatterns: cfg.devPatterns, daemonPatterns: cfg.daemonPatterns},
  }
}
