import {COMMON_FLAGS} from '../common-flags.js'
import {command, flagSet, type RunContext} from '../spec.js'

/** The job's own cgroup limits and where its defaults come from: run-dev-safe and isolate. */
const LIMIT_FLAGS = flagSet({
  'memory-max': {type: 'size', description: "The job's memory budget (e.g. 4GiB): the job runs in its own cgroup (v2 memory.max, else v1 memory.limit_in_bytes) and, over it, the kernel OOM-kills inside that cgroup only. Not started if the limit cannot be set."},
  'cpu-weight': {type: 'integer', min: 1, max: 10000, description: "The job's CPU weight in its own cgroup (cgroup v2 cpu.weight, 100 = normal; v1 cpu.shares ×10.24)."},
  config: {type: 'string', env: 'MEDIC_ISOLATION_CONFIG', description: 'The config medic isolation wrote: its runDevSafe nice, memoryMax and cpuWeight are the defaults here.'},
})

const FLAGS = flagSet({
  name: {type: 'name', description: 'Name of the job, 1-64 of A-Z a-z 0-9 . _ - (default: the program name).'},
  nice: {type: 'integer', default: '10', min: -20, max: 19, description: 'Scheduling niceness of the job.'},
  'oom-score-adj': {type: 'integer', default: '-500', min: -1000, max: 1000, description: 'oom_score_adj for the job (root only; lower = less likely picked).'},
  trace: {type: 'boolean', allowNo: true, default: true, description: 'Record signals to the job as kill-trace does (where permitted).'},
  cwd: {type: 'string', description: 'Run the job in this directory (the seed took a project root).'},
  'json-report': {type: 'string', description: 'Write the structured result here.'},
  ...LIMIT_FLAGS,
  ...COMMON_FLAGS,
  'log-file': {type: 'string', description: "The job's output log (default <state-dir>/run-dev-safe/<name>.log)."},
})
/** isolate: run-dev-safe's flags but --oom-score-adj (set only for a job registered as protected). */
const {'oom-score-adj': _runDevSafeOnly, ...ISOLATE_FLAGS} = FLAGS
type JobFlags = typeof ISOLATE_FLAGS & Partial<Pick<typeof FLAGS, 'oom-score-adj'>>

/**
 * Runs the job (run-dev-safe: registered as protected; isolate: not registered). The
 * config's runDevSafe settings fill the flags the command line did not give.
 */
async function runJob({parsed, stderr}: RunContext<JobFlags>, register: boolean) {
  const f = parsed.flags
  const [{runDevSafe}, {procTable}, {stateLayout, guardRecordLayouts}, {basename}, {nameFrom}, {makeGate}, {registryPlaces}, {readGuardActions}, {UsageError}, {MIN_MEMORY_MAX}, {configFromFlag}] = await Promise.all([
    import('../../ops/run-dev-safe.js'), import('../../sys/proc-table.js'), import('../../sys/state-layout.js'), import('node:path'), import('../../core/names.js'), import('../../deps.js'), import('../../sys/protected-registry.js'),
    import('../../sys/guard-store.js'), import('../parse.js'), import('../../core/guard-config.js'), import('../guard-config-flag.js'),
  ])
  const [{systemClock}, {processSignalHub}, {tracer}, {jobSpawner}] = await Promise.all([import('../../sys/clock.js'), import('../../sys/signal-hub.js'), import('../../sys/tracer.js'), import('../../sys/spawn-job.js')])
  const cfg = await configFromFlag(f.config)
  const given = (k: string) => parsed.given.has(k)
  const nice = given('nice') ? f.nice : cfg.path ? cfg.runDevSafe.nice : f.nice
  const memoryMax = given('memory-max') ? f['memory-max'] : cfg.runDevSafe.memoryMax
  const cpuWeight = given('cpu-weight') ? f['cpu-weight'] : cfg.runDevSafe.cpuWeight
  if (memoryMax !== null && memoryMax !== undefined && memoryMax < MIN_MEMORY_MAX) throw new UsageError(`--memory-max ${memoryMax}: at least ${MIN_MEMORY_MAX / 1024 / 1024}MiB`)
  const layout = stateLayout(f['state-dir'])
  const name = f.name ?? nameFrom(basename(parsed.rest[0]), 'job')
  // Its own state dir's guard records, and a root guard's (the usual default).
  const readers = guardRecordLayouts(layout)
  return runDevSafe({
    name, command: parsed.rest, cwd: f.cwd, nice, oomScoreAdj: f['oom-score-adj'] ?? 0, // set only for a registered job: run-dev-safe's, which has the flag
    logFile: f['log-file'] ?? layout.devRunLog(name),
    trace: f.trace !== false, stateDir: layout.dir, jsonReport: f['json-report'] ?? null,
    limits: {memoryMax: memoryMax ?? null, cpuWeight: cpuWeight ?? null}, register,
    emoji: process.stderr.isTTY === true && /utf-?8/i.test(process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || ''),
  }, {clock: systemClock, procs: procTable, gate: await makeGate({stateDir: layout.dir}), places: registryPlaces(layout.dir), signals: processSignalHub, tracer, spawner: jobSpawner, stderr, uid: process.getuid?.() ?? 0, guardActions: (since: number) => readGuardActions(readers, since)})
}

const spec = command({
  id: 'run-dev-safe',
  subject: 'DEVRUN',
  summary: 'Run a long dev job at low priority, protected from medic and (where allowed) the OOM killer, with a log that survives a kill and its end explained.',
  description: `Runs any program with its arguments exactly as given (no shell), at nice 10, in its own process group; SIGINT, SIGTERM and SIGHUP to the wrapper go to the job. Before the job starts, the wrapper registers itself (and so the job, its descendant) in the host's protected registry, then the job too, so medic cleanup, health, supervise, watchdog and drill never signal them (and say so) — also a daemon the job double-forks, by the MEDIC_PROTECTED mark in its environment, the job's session and, as root, the job's cgroup. If it cannot register, the job is not started: DEVRUN_UNKNOWN on stderr, exit 3; OMNIMIND_DEV_SCRIPT_MODE=true and OMNIMIND_SCRIPT_PID are exported for the OmniMind protector's own check. As root, oom_score_adj is lowered (--oom-score-adj) where the kernel permits it (it takes CAP_SYS_RESOURCE; said so when refused); earlyoom and systemd-oomd are detected and their rules checked against the job.

--memory-max SIZE / --cpu-weight N put the job in cgroups of its own that the kernel enforces (see medic isolate): over budget, the job alone is OOM-killed, and the end says "the kernel OOM killer in its own cgroup". Defaults for --nice, --memory-max and --cpu-weight come from the config medic isolation wrote (--config, or $MEDIC_ISOLATION_CONFIG).

Output passes through and is also written by the wrapper to --log-file as it comes, so it survives the job's death. With --trace (default, where permitted) signals are recorded as kill-trace does, and the end names the real sender or cause.

At the end: the seed's report for exit 0 / 130 / 137 / 143 / other; the wrapper exits with the job's status (128+N when signalled), so scripts that chain it keep working. The verdict line DEVRUN_OK / DEVRUN_ALERT goes to stderr — stdout belongs to the job. --json-report FILE writes the structured result.`,
  examples: [
    '<%= config.bin %> <%= command.id %> -- bash scripts/recovery/03_run_500_cycles_no_timeout.sh',
    '<%= config.bin %> <%= command.id %> --name pytest --log-file logs/pytest.log --json-report logs/pytest.json -- python -m pytest -x "tests/a b.py"',
  ],
  exitCodes: [
    "The job's own status, in both --exit-codes modes (not the table other commands use):",
    'N          the job exited with N: 0 is DEVRUN_OK, anything else DEVRUN_ALERT',
    '128+N      the job was killed by signal N: 130 SIGINT (Ctrl+C), 137 SIGKILL, 143 SIGTERM; DEVRUN_ALERT',
    '3          bad input, or the job was not started: DEVRUN_UNKNOWN',
    'The verdict line goes to stderr: stdout belongs to the job.',
  ].join('\n'),
  flags: FLAGS,
  rest: {name: 'cmd', description: 'the job and its arguments, exactly as given', required: true},
  wrapper: true,
  run: (ctx) => runJob(ctx, true),
})

export default spec

export const isolate = command({
  ...spec,
  id: 'isolate',
  summary: "Run a job in its own cgroup with a memory budget and a CPU weight the kernel enforces: over budget, it alone is OOM-killed. run-dev-safe without the protected registry.",
  description: `The wrapper of run-dev-safe — the job at nice 10, its own process group, signals forwarded, output also in a log, its end explained — with the job in cgroups of its own and NOT registered as protected (medic guard, cleanup and health may act on it like on any process).

--memory-max SIZE: over it, the kernel's OOM killer acts inside the job's cgroup only — nothing outside it is a candidate — and the end says "the kernel OOM killer in its own cgroup". A systemd-run --scope where systemd is PID 1 (the limits read back inside the scope before the job starts), cgroup v2 where the controllers are offered (memory.max, memory.swap.max 0), cgroup v1 otherwise (memory.limit_in_bytes, memsw where swap is accounted; this is the case on hybrid hosts, where the v2 tree has no controllers). --cpu-weight N: cgroup v2 cpu.weight (v1 cpu.shares = N × 10.24). A job whose limits cannot be set is not started (DEVRUN_UNKNOWN, exit 3).

The verdict (DEVRUN_OK / DEVRUN_ALERT) goes to stderr; the wrapper exits with the job's status.`,
  examples: [
    '<%= config.bin %> <%= command.id %> --memory-max 4GiB --cpu-weight 50 -- python train.py',
    '<%= config.bin %> <%= command.id %> --memory-max 64M -- node build.js',
  ],
  flags: ISOLATE_FLAGS,
  run: (ctx) => runJob(ctx, false),
})
