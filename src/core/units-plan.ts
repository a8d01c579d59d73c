import {splitArgv} from './argv.js'
/**
 * `medic install`'s decisions, pure: what kind of thing a medic command line is (a
 * long-running service, a periodic check, a WSL boot command), which target can run it,
 * and the exact files, lines and units an install consists of. `medic verify` builds the
 * same plan again from the manifest to tell drift from a hand edit.
 */
import {formatMs} from './duration.js'
import {rulesYaml} from './ollama/rules.js'
import {cronBlock, cronFile, cronSchedule, dockerHealthcheck, hardeningDropIn, oneshotUnit, rulesFile, serviceUnit, timerUnit, unitFileName, wslBootLine, type UnitText} from './units.js'

export const TARGETS = ['systemd', 'systemd-user', 'cron', 'wsl', 'docker', 'print'] as const
export type Target = (typeof TARGETS)[number]
/** Targets that write something and so leave a manifest. */
export type WritingTarget = 'systemd' | 'systemd-user' | 'cron' | 'wsl'
export type Kind = 'service' | 'check' | 'boot' | 'harden'

/** The medic command line being installed, as the CLI parsed it against its own declaration. */
export interface InnerCommand {
  /** `health`, `ollama metrics`. */
  id: string
  /** The words after the id, as given. */
  args: string[]
  /** Its token subject, for the last-verdict record (`GATEWAY`, `WHATSAPP`). */
  subject: string
  flags: {
    name?: string
    port?: number
    once?: boolean
    /** `ollama frozen-check --watch` (boolean) or `ollama metrics --watch 15s` (ms). */
    watch?: boolean | number
    interval?: number
    /** watchdog --startup-delay: its first pass comes that much after the start. */
    startupDelay?: number
    file?: string
    metricsFile?: string
    stateDir?: string
    logFile?: string
    exitCodes?: string
  }
}

export interface InstallRequest {
  version: 1
  name: string
  target: Target
  everyMs: number | null
  /** An existing unit to harden with the seed-000 drop-in. */
  unit: string | null
  /** The port of that unit (its ExecStartPre cleanup). */
  port: number | null
  textfileDir: string | null
  rulesFile: string | null
  /** install's own explicit --state-dir, handed on to the command (null: the default). */
  stateDir: string | null
  /** The medic command line, without `medic` (null: only the hardening drop-in). */
  command: string[] | null
}

/** What the plan needs to know of the machine (all resolved by sys). */
export interface HostFacts {
  /** How to run medic: [node, /abs/bin/run.js]. */
  medic: string[]
  root: boolean
  /** The installing user (owner of every file medic writes). */
  uid: number
  hasSystemd: boolean
  /** The resolved state dir (where the log, the manifest and the last-verdict records go). */
  stateDir: string
  systemUnitDir: string
  userUnitDir: string
  cronDir: string
  wslConf: string
  /** Where an installed command logs when it has no --log-file (the state layout's install/<name>.log). */
  installLog: (stateDir: string, name: string) => string
  /** medic's own record folders in a state dir (the manifests, the last verdicts): no output of an install goes there. */
  recordDirs: (stateDir: string) => string[]
  /** Where a path really leads (its existing folders' symlinks resolved), or null when that cannot be known; outputs are compared both ways. */
  real?: (path: string) => string | null
}

export interface PlannedFile {
  path: string
  text: string
  mode: number
  role: 'service' | 'timer' | 'dropin' | 'cron' | 'rules'
}

export interface Plan {
  name: string
  /** `medic-<name>`. */
  unitName: string
  kind: Kind
  target: Target
  /** What `print` prints for (the target it would write). */
  writes: WritingTarget | null
  files: PlannedFile[]
  /** A non-root cron install: medic's block in the user's crontab. */
  crontabBlock: string | null
  wsl: {path: string; line: string} | null
  /** Directories the command writes into (the textfile dir): created, removed only if empty. */
  dirs: string[]
  systemd: {user: boolean; service: string | null; timer: string | null; hardened: string | null} | null
  /** docker and print: what is printed instead of written. */
  printed: string[] | null
  /** The full command line as the unit, cron or WSL runs it. */
  argv: string[] | null
  /** Its environment besides PATH (TEXTFILE_DIR). */
  env: Record<string, string>
  /** What verify reads back. */
  watch: {
    commandId: string | null
    subject: string | null
    stateDir: string
    logFile: string | null
    everyMs: number | null
    textfiles: {path: string; intervalMs: number}[]
    /**
     * A long-running loop's heartbeat: each pass refreshes the install's last-verdict record
     * (the runner, under MEDIC_INSTALL_NAME); verify judges its age against the interval.
     * Absent in manifests written before it; null for supervise (it acts on events, not passes).
     */
    heartbeat?: {intervalMs: number; startupMs: number} | null
  }
}

export type Planned = {ok: true; plan: Plan} | {ok: false; reason: string}

const CHECKS = new Set(['health', 'cleanup', 'locks clean', 'sessions archive', 'verify', 'supervise status', 'drill'])
export const DEFAULT_EVERY_MS = 600_000
/** The seed's Docker compose healthcheck: interval 30s, timeout 10s, retries 3, start_period 40s. */
export const DOCKER_HEALTHCHECK = {intervalMs: 30_000, timeoutMs: 10_000, retries: 3, startPeriodMs: 40_000}

export function classify(c: InnerCommand): {ok: true; kind: Kind} | {ok: false; reason: string} {
  if (c.id === 'supervise') return {ok: true, kind: 'service'}
  if (c.id === 'watchdog') return {ok: true, kind: c.flags.once ? 'check' : 'service'}
  if (c.id === 'ollama frozen-check' || c.id === 'ollama metrics') return {ok: true, kind: c.flags.watch ? 'service' : 'check'}
  if (c.id === 'boot') return {ok: true, kind: 'boot'}
  if (CHECKS.has(c.id)) return {ok: true, kind: 'check'}
  return {ok: false, reason: `medic ${c.id} is not something to install (a service: supervise, watchdog, ollama frozen-check --watch, ollama metrics --watch; a check: ${[...CHECKS].join(', ')}, ollama frozen-check, ollama metrics; boot for WSL)`}
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/

/** Names become unit and /etc/cron.d file names: letters, digits, _ and - (run-parts ignores a dot). */
export function validName(name: string): boolean {
  return NAME.test(name)
}

export function defaultName(c: InnerCommand | null, unit: string | null): string {
  if (!c) return `harden-${(unit ?? 'unit').replace(/\.service$/, '')}`.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 63)
  const base = c.id.replace(/ /g, '-')
  const n = c.flags.name
  return (n ? `${base}-${n}` : base).replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 63)
}

/** The target when none is given: systemd when it is the init (user units when not root), else cron; WSL for `medic boot`. */
export function defaultTarget(kind: Kind, h: Pick<HostFacts, 'root' | 'hasSystemd'>): WritingTarget {
  if (kind === 'boot') return 'wsl'
  if (h.hasSystemd) return h.root ? 'systemd' : 'systemd-user'
  return 'cron'
}

const TEXTFILE = {'ollama metrics': 'ollama.prom', 'ollama frozen-check': 'ollama_selfheal.prom'} as Record<string, string>

/**
 * Everything an install consists of. Refusals here are bad input (INSTALL_UNKNOWN): a
 * command the target cannot run, an interval cron cannot express.
 */
export function buildPlan(req: InstallRequest, inner: InnerCommand | null, h: HostFacts): Planned {
  const bad = (reason: string): Planned => ({ok: false, reason})
  if (!validName(req.name)) return bad(`--name ${JSON.stringify(req.name)}: letters, digits, _ and - only (it names units and /etc/cron.d files), at most 63`)
  if (!inner && !req.unit) return bad('nothing to install: give a medic command line after --, or --unit to harden')
  const cls = inner ? classify(inner) : ({ok: true, kind: 'harden'} as const)
  if (!cls.ok) return bad(cls.reason)
  const kind = cls.kind
  const writes: WritingTarget | null = req.target === 'docker' ? null : req.target === 'print' ? (kind === 'boot' ? 'wsl' : h.root ? 'systemd' : 'systemd-user') : req.target
  const target = req.target
  if (kind === 'boot' && writes !== 'wsl' && target !== 'print') return bad("medic boot is WSL's [boot] command: use --target wsl (under systemd, install 'medic supervise …' as a service instead)")
  if (kind !== 'boot' && kind !== 'harden' && writes === 'wsl') return bad("--target wsl writes WSL's [boot] command: install 'medic boot …' (it starts the supervisor)")
  if (kind === 'service' && writes === 'cron') return bad('a long-running command needs a service manager: --target systemd or systemd-user (or medic boot with --target wsl)')
  if (target === 'docker' && kind !== 'check') return bad('a Docker HEALTHCHECK runs a check (medic health …), not a long-running command')
  if (req.everyMs !== null && kind !== 'check') return bad(`--every is for checks; medic ${inner?.id ?? 'install --unit'} is ${kind === 'service' ? 'long-running' : 'not periodic'}`)
  if (req.everyMs !== null && req.everyMs < 1000) return bad('--every must be at least 1s')
  if (req.unit && writes !== 'systemd' && writes !== 'systemd-user') return bad('--unit hardens a systemd unit: --target systemd or systemd-user')
  if (req.unit && req.port === null) return bad('--unit needs the port the unit listens on (--port, or the command’s own --port)')
  const paths: [string, string | null | undefined][] = [['--rules-file', req.rulesFile], ['--textfile-dir', req.textfileDir], ['--state-dir', req.stateDir], ['the command’s --state-dir', inner?.flags.stateDir], ['the command’s --log-file', inner?.flags.logFile], ['the command’s --file', inner?.flags.file], ['the command’s --metrics-file', inner?.flags.metricsFile]]
  for (const [flag, p] of paths) {
    if (p === null || p === undefined) continue
    if (!p.startsWith('/')) return bad(`${flag} ${p}: an absolute path is needed (units and cron do not run where you are)`)
    // The manifest records the files and folders as given; uninstall trusts only plain paths (no `..`, `.`, `//`).
    if (!flag.includes('state-dir') && !flag.includes('log-file') && normalPath(p) !== p) return bad(`${flag} ${p}: give it plainly, as ${normalPath(p)}`)
  }
  if ((writes === 'wsl' || kind === 'boot') && (!h.wslConf.startsWith('/') || normalPath(h.wslConf) !== h.wslConf)) {
    return bad(`--wsl-conf ${h.wslConf}: a plain absolute path is needed (uninstall finds it there again)`)
  }

  const user = writes === 'systemd-user'
  const unitName = `medic-${req.name}`
  const stateDir = inner?.flags.stateDir ?? req.stateDir ?? h.stateDir
  const logFile = inner ? (inner.flags.logFile ?? h.installLog(stateDir, req.name)) : null
  const every = kind === 'check' ? (req.everyMs ?? (target === 'docker' ? DOCKER_HEALTHCHECK.intervalMs : DEFAULT_EVERY_MS)) : null
  const ollama = inner?.id.startsWith('ollama ') ?? false
  const textfileFor = inner && TEXTFILE[inner.id] ? (inner.id === 'ollama metrics' ? inner.flags.file : inner.flags.metricsFile) ?? (req.textfileDir ? `${req.textfileDir}/${TEXTFILE[inner.id]}` : null) : null
  const textInterval = inner?.id === 'ollama metrics' && typeof inner.flags.watch === 'number' ? inner.flags.watch : inner?.id === 'ollama frozen-check' && inner.flags.watch ? (inner.flags.interval ?? 15_000) : every
  const loopMs = kind !== 'service' || !inner ? null : inner.id === 'watchdog' ? (inner.flags.interval ?? 5000) : inner.id === 'ollama frozen-check' ? (inner.flags.interval ?? 15_000) : inner.id === 'ollama metrics' && typeof inner.flags.watch === 'number' ? inner.flags.watch : null
  const env: Record<string, string> = req.textfileDir && inner && TEXTFILE[inner.id] ? {TEXTFILE_DIR: req.textfileDir} : {}
  // Its runs record their verdict under its own name too: verify judges this install by them only.
  if (inner && target !== 'docker') env.MEDIC_INSTALL_NAME = req.name

  // The command as it will run: absolute medic, the log and state dir medic verify reads.
  const extra: string[] = []
  if (inner && !inner.flags.logFile && target !== 'docker') extra.push('--log-file', logFile!)
  if (inner && !inner.flags.stateDir && req.stateDir && target !== 'docker') extra.push('--state-dir', req.stateDir)
  if (inner && target === 'docker' && !inner.flags.exitCodes) extra.push('--exit-codes', 'binary')
  // Before a `--`: after it, words belong to the supervised command.
  const split = inner ? splitArgv(inner.args) : null
  const words = inner && split ? [...inner.id.split(' '), ...split.words, ...extra, ...(split.rest ? ['--', ...split.rest] : [])] : null
  const argv = words ? (target === 'docker' ? ['medic', ...words] : [...h.medic, ...words]) : null

  const plan: Plan = {
    name: req.name, unitName, kind, target, writes, files: [], crontabBlock: null, wsl: null,
    dirs: req.textfileDir && textfileFor?.startsWith(`${req.textfileDir}/`) ? [req.textfileDir] : [],
    systemd: null, printed: null, argv, env,
    watch: {commandId: inner?.id ?? null, subject: inner?.subject ?? null, stateDir, logFile, everyMs: every, textfiles: textfileFor && textInterval ? [{path: textfileFor, intervalMs: textInterval}] : [], heartbeat: loopMs ? {intervalMs: loopMs, startupMs: inner?.flags.startupDelay ?? 0} : null},
  }
  if (target === 'docker') {
    plan.printed = [dockerHealthcheck(argv!, {...DOCKER_HEALTHCHECK, intervalMs: every!})]
    return {ok: true, plan}
  }
  const description = inner ? `medic ${req.name}: medic ${[inner.id, ...inner.args].join(' ')}`.slice(0, 200) : ''
  if (writes === 'systemd' || writes === 'systemd-user') {
    const dir = user ? h.userUnitDir : h.systemUnitDir
    plan.systemd = {user, service: null, timer: null, hardened: null}
    if (inner) {
      const u: UnitText = {name: unitName, description, argv: argv!, env, after: ollama ? ['ollama.service'] : [], user}
      plan.files.push({path: `${dir}/${unitName}.service`, text: kind === 'service' ? serviceUnit(u) : oneshotUnit(u), mode: 0o644, role: 'service'})
      plan.systemd.service = `${unitName}.service`
      if (kind === 'check') {
        plan.files.push({path: `${dir}/${unitName}.timer`, text: timerUnit(unitName, every!, user), mode: 0o644, role: 'timer'})
        plan.systemd.timer = `${unitName}.timer`
      }
    }
    if (req.unit) {
      const unitFile = unitFileName(req.unit)
      const cleanup = [...h.medic, 'cleanup', '--port', String(req.port), '--exit-codes', 'binary', ...(req.stateDir ? ['--state-dir', req.stateDir] : [])]
      plan.files.push({path: `${dir}/${unitFile}.d/${unitName}.conf`, text: hardeningDropIn(unitName, unitFile, cleanup), mode: 0o644, role: 'dropin'})
      plan.systemd.hardened = unitFile
    }
  } else if (writes === 'cron') {
    const sched = cronSchedule(every!)
    if (!sched.ok) return bad(sched.reason)
    if (h.root) plan.files.push({path: `${h.cronDir}/${unitName}`, text: cronFile(unitName, sched.spec, argv!, env), mode: 0o644, role: 'cron'})
    else plan.crontabBlock = cronBlock(unitName, sched.spec, argv!, env)
  } else if (writes === 'wsl') {
    for (const a of argv!) if (/[#;\n\r]/.test(a)) return bad(`wsl.conf cannot hold ${JSON.stringify(a)}: no #, ; or newlines in a [boot] command`)
    plan.wsl = {path: h.wslConf, line: wslBootLine(argv!)}
  }
  if (req.rulesFile) plan.files.push({path: req.rulesFile, text: rulesFile(unitName, rulesYaml()), mode: 0o644, role: 'rules'})
  const clash = outputClash(plan, req, inner, h, stateDir)
  if (clash) return bad(clash)
  if (target === 'print') {
    plan.printed = [
      ...plan.files.flatMap((f) => [`# ${f.path}`, ...f.text.trimEnd().split('\n'), '']),
      ...(plan.crontabBlock ? ['# crontab -e (your user)', ...plan.crontabBlock.trimEnd().split('\n'), ''] : []),
      ...(plan.wsl ? [`# ${plan.wsl.path}, section [boot]`, plan.wsl.line, ''] : []),
    ]
  }
  return {ok: true, plan}
}

/** `a/./b/../c` → `a/c`, `//` → `/`: paths compared as the kernel resolves their names (no symlinks). */
export function normalPath(p: string): string {
  const out: string[] = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return (p.startsWith('/') ? '/' : '') + out.join('/')
}

const inside = (path: string, dir: string) => normalPath(path).startsWith(normalPath(dir).replace(/\/?$/, '/'))

/**
 * An output path given by a flag (--rules-file, --wsl-conf, the command's --log-file and
 * textfile) that lands on another output of this install, in medic's own records (a
 * manifest, a last verdict), or in a folder where systemd or cron reads every file: bad
 * input, before anything is written.
 */
function outputClash(plan: Plan, req: InstallRequest, inner: InnerCommand | null, h: HostFacts, stateDir: string): string | null {
  const outs: {what: string; path: string; given: boolean}[] = [
    ...plan.files.map((f) => ({what: f.role === 'rules' ? '--rules-file' : `medic’s ${f.path.split('/').pop()}`, path: f.path, given: f.role === 'rules'})),
    ...(plan.wsl ? [{what: '--wsl-conf', path: plan.wsl.path, given: true}] : []),
    ...(plan.watch.logFile ? [{what: 'the command’s --log-file', path: plan.watch.logFile, given: Boolean(inner?.flags.logFile)}] : []),
    ...plan.watch.textfiles.map((t) => ({what: `the textfile of medic ${inner?.id ?? ''}`, path: t.path, given: true})),
  ]
  const records = [...new Set([...h.recordDirs(h.stateDir), ...h.recordDirs(stateDir)])]
  const readers = [[h.systemUnitDir, 'systemd'], [h.userUnitDir, 'systemd --user'], [h.cronDir, 'cron']] as const
  // Each path as given and where it really leads: a symlinked folder does not hide a clash.
  const forms = (p: string): string[] => [...new Set([normalPath(p), ...[h.real?.(p)].filter((r): r is string => Boolean(r))])]
  const same = (a: string, b: string) => forms(a).some((x) => forms(b).includes(x))
  const within = (p: string, d: string) => forms(p).some((x) => forms(d).some((y) => inside(x, y)))
  for (const o of outs.filter((x) => x.given)) {
    const other = outs.find((x) => x !== o && same(x.path, o.path))
    if (other) return `${o.what} ${o.path} is also ${other.what}: an install writes each of its files once`
    const rec = records.find((d) => within(o.path, d))
    if (rec) return `${o.what} ${o.path} is inside medic’s own records (${rec}): choose another path`
    const reader = readers.find(([d]) => within(o.path, d))
    if (reader) return `${o.what} ${o.path} is in ${reader[0]}, where ${reader[1]} reads every file: choose another path`
  }
  return null
}

/** One line per install for humans: `medic-health-gateway (timer every 10m, hardened x.service)`. */
export function describePlan(p: Plan): string {
  const every = p.watch.everyMs ? formatMs(p.watch.everyMs) : ''
  const what = p.systemd
    ? [p.systemd.timer ? `timer every ${every}` : p.systemd.service ? 'service' : null, p.systemd.hardened ? `hardened ${p.systemd.hardened}` : null].filter(Boolean).join(', ')
    : p.crontabBlock ? `your crontab, every ${every}` : p.files.some((f) => f.role === 'cron') ? `cron every ${every}` : p.wsl ? `[boot] command in ${p.wsl.path}` : 'printed'
  return `${p.unitName} (${what})`
}
