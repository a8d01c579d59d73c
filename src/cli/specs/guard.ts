import {COMMON_FLAGS} from '../common-flags.js'
import {command, flagSet, type Parsed, type RunContext} from '../spec.js'

/** Flags `guard` and `guard status` share: what is measured and against which limits. */
const LIMIT_FLAGS = flagSet({
  mode: {type: 'enum', options: ['dev', 'test', 'prod'], env: 'MEDIC_GUARD_MODE', description: "The limits table to use (default: the config's mode, else dev)."},
  config: {type: 'string', env: 'MEDIC_ISOLATION_CONFIG', description: 'The config medic isolation wrote (limits per mode, dev and daemon patterns, nice level), or any JSON file in its shape.'},
  'cpu-limit': {type: 'integer', min: 1, max: 100, description: "Host CPU busy % over which CPU is over (default: the mode's)."},
  'memory-limit': {type: 'integer', min: 1, max: 100, description: "Memory in use % (MemTotal − MemAvailable) over which memory is over (default: the mode's)."},
  'disk-limit': {type: 'integer', min: 1, max: 100, description: "Filesystem use % over which disk is over (default: the mode's)."},
  'memory-pressure-limit': {type: 'integer', min: 0, max: 100, description: 'PSI memory "full avg10" % at which memory is over too, whatever its use (default 60, systemd-oomd\'s; 0 = off).'},
  'disk-path': {type: 'string', multiple: true, default: '/', description: 'A filesystem to watch (repeatable).'},
  sample: {type: 'duration', default: '1s', min: 100, description: 'The CPU measuring window of a single pass (never a blocking wait).'},
})

const GUARD_DESCRIPTION = `Replaces resource_protector.py, done so it can never kill the job it protects. Each sample reads the kernel's own numbers — PSI (/proc/pressure/memory|cpu|io), MemAvailable from /proc/meminfo, /proc/stat, statfs — never blocking, never spawning; the process table is read only when a resource is over its limit.

Limits per --mode (dev|test|prod): without --config, resource_protector.py's table (cpu 75/85/95 %, memory 80/85/95 %, disk 90/90/95 %, startup grace 60/30/120 s); with the config medic isolation writes, the table setup_resource_isolation.sh generated (cpu 80/85/95, memory 85/88/95, kill-cpu 95/90/98, prefer nice over kill in dev and test). Memory is over too when PSI memory "full avg10" reaches --memory-pressure-limit.

Candidates: your own processes (as root: all but system accounts, system.slice/init.scope and root daemons started by init), never pid 1, medic itself, its tree or its ancestors; ranked like earlyoom (memory by oom_score then RSS, CPU by % of a core). Never touched, on every path (CPU, memory and disk — the seed's whitelist covered CPU only): the host's protected registry and every process carrying its marks (run-dev-safe jobs and their setsid'd children), --protect, the config's dev patterns (pytest, 03_run_500_cycles, …) and daemon patterns (uvicorn, redis, …), OMNIMIND_DEV_SCRIPT_MODE=true, services run by medic supervise.

The ladder, after --hysteresis consecutive samples over a limit: renice 19 (memory: and oom_score_adj 1000; CPU without prefer-nice: SIGTERM at once above kill-cpu, as the protector did) → at the next sample still over, SIGTERM (CPU: only above kill-cpu, never with prefer-nice) → after --grace, if alive and still over, SIGKILL; at most --kills-per-hour SIGTERMs; nothing during the startup grace; renices are given back when the pressure is gone. Disk is reported, never acted on. Every action goes through medic's signal gate (identity re-read, protection re-checked) after a last look at the process, and is recorded in <state-dir>/guard/actions.jsonl, which kill-trace reads: "medic guard, memory 93 % > 88 % for 3 samples".

DRY RUN unless --enforce: what would be done is named, nothing is changed.

GUARD_OK          every resource under its limit
GUARD_RECOVERED   an offender was stopped and the resource is back under its limit
GUARD_ALERT       a resource is over its limit (dry run, within hysteresis, budget spent, only protected offenders, disk)
GUARD_UNKNOWN     a resource could not be measured, or bad input

One pass keeps its counts in <state-dir>/guard/state.json between runs (cron); --watch keeps them in memory and prints a verdict line on each change of status.`

const GUARD_FLAGS = flagSet({
  ...LIMIT_FLAGS,
  watch: {type: 'duration', min: 100, description: 'Sample every this long until SIGTERM (the seed: 2s); without it, one pass.'},
  enforce: {type: 'boolean', description: 'Act (renice, SIGTERM, SIGKILL). Without it: a dry run that names what would be done.'},
  'dry-run': {type: 'boolean', description: 'Report what would be done; change nothing (the default).'},
  hysteresis: {type: 'integer', default: '3', min: 1, max: 1000, description: 'Act only after this many consecutive samples over a limit.'},
  grace: {type: 'duration', default: '10s', description: 'SIGTERM → SIGKILL grace (the seed waited 2 s).'},
  'kills-per-hour': {type: 'integer', default: '3', min: 0, max: 1000, description: 'At most this many SIGTERMs per hour.'},
  'startup-grace': {type: 'duration', description: "Do nothing this long after the guard starts (one pass: after boot). Default: the mode's (60/30/120 s)."},
  'prefer-nice': {type: 'boolean', allowNo: true, description: "CPU offenders are reniced, never signalled (default: the mode's)."},
  protect: {type: 'regex', multiple: true, description: 'Never touch a process matching this (repeatable).'},
  match: {type: 'regex', description: 'Only processes matching this may be acted on.'},
  ...COMMON_FLAGS,
})
const STATUS_FLAGS = flagSet({...LIMIT_FLAGS, ...COMMON_FLAGS})
/** guard status has the limits only: the guard's own flags are absent (undefined) there. */
type InputFlags = typeof STATUS_FLAGS & Partial<typeof GUARD_FLAGS>

async function guardInput(parsed: Parsed<InputFlags>) {
  const f = parsed.flags
  const [{UsageError}, {configFromFlag}, {isMode, literalPattern}] = await Promise.all([import('../parse.js'), import('../guard-config-flag.js'), import('../../core/guard-config.js')])
  const config = await configFromFlag(f.config)
  const mode = f.mode ?? config.mode ?? 'dev'
  if (!isMode(mode)) throw new UsageError(`--mode ${mode}: expected dev, test or prod`)
  const limits = {...config.limits[mode]}
  if (f['cpu-limit'] !== undefined) limits.cpuPercent = f['cpu-limit']
  if (f['memory-limit'] !== undefined) limits.memoryPercent = f['memory-limit']
  if (f['disk-limit'] !== undefined) limits.diskPercent = f['disk-limit']
  if (f['memory-pressure-limit'] !== undefined) limits.memoryPressurePercent = f['memory-pressure-limit'] || null
  if (f['startup-grace'] !== undefined) limits.startupGraceSeconds = f['startup-grace'] / 1000
  if (f['prefer-nice'] !== undefined && parsed.given.has('prefer-nice')) limits.preferNice = f['prefer-nice'] === true
  if (f.enforce === true && f['dry-run'] === true) throw new UsageError('--enforce and --dry-run contradict each other')
  return {
    config, mode, limits,
    devPatterns: config.devPatterns.map(literalPattern),
    daemonPatterns: config.daemonPatterns.map(literalPattern),
    protect: [...(f.protect ?? []), ...config.protect.map((p) => new RegExp(p))],
    diskPaths: f['disk-path'],
  }
}

async function runGuard({parsed, stderr}: RunContext<typeof GUARD_FLAGS>) {
  const f = parsed.flags
  const g = await guardInput(parsed)
  const [{guardPass, guardWatch}, {makeGate}, {procTable}, {makeGuardSampler}, store, {stateLayout}, {systemClock, monotonicMs}, {LogFile}, {LockManager}] = await Promise.all([
    import('../../ops/guard.js'), import('../../deps.js'), import('../../sys/proc-table.js'), import('../../sys/guard-sampler.js'), import('../../sys/guard-store.js'),
    import('../../sys/state-layout.js'), import('../../sys/clock.js'), import('../../sys/log-file.js'), import('../../sys/lock.js'),
  ])
  const layout = stateLayout(f['state-dir'])
  // The gate enforces the guard's never-touch patterns too, at the moment of each signal.
  const gate = await makeGate({stateDir: layout.dir, protect: [...g.protect, ...g.devPatterns, ...g.daemonPatterns], match: f.match ?? null})
  const watchMs = f.watch ?? null
  const enforce = f.enforce === true
  // One guard acts at a time (a --watch holds it for its life); a dry run takes no lock.
  let release: (() => void) | null = null
  if (enforce) {
    const lock = await new LockManager(layout, procTable, systemClock).acquire('guard', 0, watchMs === null ? 'guard pass' : 'guard --watch').catch((e: Error) => ({acquired: false as const, owner: null, error: e}))
    if (!lock.acquired) {
      const who = lock.owner ? `pid ${lock.owner.pid} (${lock.owner.purpose ?? 'guard'})` : 'error' in lock ? `the lock cannot be taken: ${lock.error instanceof Error ? lock.error.message : lock.error}` : 'another guard'
      return {subject: 'GUARD', status: 'UNKNOWN' as const, summary: `another guard is acting: ${who}; nothing done`, checks: [], actions: []}
    }
    release = lock.release
  }
  const input = {
    mode: g.mode, limits: g.limits, configPath: g.config.path, enforce, watchMs, sampleMs: f.sample,
    hysteresis: f.hysteresis, graceMs: f.grace, killsPerHour: f['kills-per-hour'], diskPaths: g.diskPaths,
    devPatterns: g.devPatterns, daemonPatterns: g.daemonPatterns, match: f.match ?? null,
  }
  const deps = {
    clock: systemClock, sampler: makeGuardSampler({monotonic: monotonicMs}), gate, procs: procTable,
    store: {read: () => store.readGuardState(layout), write: (s: Parameters<typeof store.writeGuardState>[1]) => store.writeGuardState(layout, s), record: (a: Parameters<typeof store.recordGuardAction>[1]) => store.recordGuardAction(layout, a)},
    log: new LogFile(f['log-file']), progress: stderr, announce: (l: string) => process.stdout.write(`${l}\n`),
    selfPid: process.pid, uid: process.getuid?.() ?? 0,
  }
  try {
    return watchMs === null ? await guardPass(input, deps) : await guardWatch(input, deps)
  } finally {
    release?.()
  }
}

export const guard = command({
  id: 'guard',
  subject: 'GUARD',
  summary: 'Guard the host against a runaway process (memory, CPU, disk) the way resource_protector.py meant to — never touching a protected job. Dry run unless --enforce.',
  description: GUARD_DESCRIPTION,
  examples: [
    '<%= config.bin %> <%= command.id %>                      # one pass, dry run: what would be done',
    '<%= config.bin %> <%= command.id %> --watch 2s --enforce --mode test',
    '<%= config.bin %> <%= command.id %> --config ./medic.isolation.json --enforce --json',
  ],
  flags: GUARD_FLAGS,

  run: runGuard,
})

export const guardStatus = command({
  id: 'guard status',
  subject: 'GUARD',
  summary: "Print resource_protector's get_resource_status(): cpu, memory and disk, each with current, limit and status (🔴 CRÍTICO / ⚠️ ELEVADO / ✅ OK).",
  description: `The seed's status shape: for cpu, memory and disk the current value, the limit of --mode and the status — "🔴 CRÍTICO" over the limit, "⚠️  ELEVADO" over 80 % of it, "✅ OK". The seed's strings are printed on a UTF-8 terminal and always in --json (status); elsewhere (a cron mail, a pipe) plain words: CRITICAL, ELEVATED, OK. PSI values are in --json (sample.psi). No process is read, nothing is done.

GUARD_OK       every resource under its limit (elevated ones named)
GUARD_ALERT    a resource over its limit
GUARD_UNKNOWN  a resource could not be measured, or bad input`,
  examples: ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --mode prod --json'],
  flags: STATUS_FLAGS,
  async run({parsed}) {
    const g = await guardInput(parsed)
    const [{guardStatus: status}, {makeGuardSampler}, {systemClock, monotonicMs}] = await Promise.all([import('../../ops/guard.js'), import('../../sys/guard-sampler.js'), import('../../sys/clock.js')])
    const env = process.env
    const utf8 = /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || '')
    return status({mode: g.mode, limits: g.limits, configPath: g.config.path, enforce: false, watchMs: null, sampleMs: parsed.flags.sample, hysteresis: 1, graceMs: 0, killsPerHour: 0, diskPaths: g.diskPaths, devPatterns: [], daemonPatterns: []},
      {sampler: makeGuardSampler({monotonic: monotonicMs}), clock: systemClock}, process.stdout.isTTY === true && utf8)
  },
})
