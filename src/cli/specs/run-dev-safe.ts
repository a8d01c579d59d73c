import {COMMON_FLAGS} from '../common-flags.js'
import type {CommandSpec} from '../spec.js'

const spec: CommandSpec = {
  id: 'run-dev-safe',
  subject: 'DEVRUN',
  summary: 'Run a long dev job at low priority, protected from medic and (where allowed) the OOM killer, with a log that survives a kill and its end explained.',
  description: `Runs any program with its arguments exactly as given (no shell), at nice 10, in its own process group; SIGINT, SIGTERM and SIGHUP to the wrapper go to the job. Before the job starts, the wrapper registers itself (and so the job, its descendant) in the host's protected registry, then the job too, so medic cleanup, health, supervise, watchdog and drill never signal them (and say so) — also a daemon the job double-forks, by the MEDIC_PROTECTED mark in its environment, the job's session and, as root, the job's cgroup. If it cannot register, the job is not started: DEVRUN_UNKNOWN on stderr, exit 3; OMNIMIND_DEV_SCRIPT_MODE=true and OMNIMIND_SCRIPT_PID are exported for the OmniMind protector's own check. As root, oom_score_adj is lowered (--oom-score-adj); earlyoom and systemd-oomd are detected and their rules checked against the job.

Output passes through and is also written by the wrapper to --log-file as it comes, so it survives the job's death. With --trace (default, where permitted) signals are recorded as kill-trace does, and the end names the real sender or cause.

At the end: the seed's report for exit 0 / 130 / 137 / 143 / other; the wrapper exits with the job's status (128+N when signalled), so scripts that chain it keep working. The verdict line DEVRUN_OK / DEVRUN_ALERT goes to stderr — stdout belongs to the job. --json-report FILE writes the structured result.`,
  examples: [
    '<%= config.bin %> <%= command.id %> -- bash scripts/recovery/03_run_500_cycles_no_timeout.sh',
    '<%= config.bin %> <%= command.id %> --name pytest --log-file logs/pytest.log --json-report logs/pytest.json -- python -m pytest -x "tests/a b.py"',
  ],
  flags: {
    name: {type: 'name', description: 'Name of the job, 1-64 of A-Z a-z 0-9 . _ - (default: the program name).'},
    nice: {type: 'integer', default: '10', min: -20, max: 19, description: 'Scheduling niceness of the job.'},
    'oom-score-adj': {type: 'integer', default: '-500', min: -1000, max: 1000, description: 'oom_score_adj for the job (root only; lower = less likely picked).'},
    trace: {type: 'boolean', allowNo: true, default: true, description: 'Record signals to the job as kill-trace does (where permitted).'},
    cwd: {type: 'string', description: 'Run the job in this directory (the seed took a project root).'},
    'json-report': {type: 'string', description: 'Write the structured result here.'},
    ...COMMON_FLAGS,
    'log-file': {type: 'string', description: "The job's output log (default <state-dir>/run-dev-safe/<name>.log)."},
  },
  rest: {name: 'cmd', description: 'the job and its arguments, exactly as given', required: true},
  wrapper: true,
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{runDevSafe}, {procTable}, {stateLayout}, {basename}, {nameFrom}, {makeGate}, {registryPlaces}] = await Promise.all([
      import('../../ops/run-dev-safe.js'), import('../../sys/proc-table.js'), import('../../sys/state-layout.js'), import('node:path'), import('../../core/names.js'), import('../../deps.js'), import('../../sys/protected-registry.js'),
    ])
    const {systemClock} = await import('../../sys/clock.js')
    const layout = stateLayout(f['state-dir'] as string | undefined)
    const name = (f.name as string | undefined) ?? nameFrom(basename(parsed.rest[0]), 'job')
    return runDevSafe({
      name, command: parsed.rest, cwd: f.cwd as string | undefined, nice: f.nice as number, oomScoreAdj: f['oom-score-adj'] as number,
      logFile: (f['log-file'] as string | undefined) ?? layout.devRunLog(name),
      trace: f.trace !== false, stateDir: layout.dir, jsonReport: (f['json-report'] as string | undefined) ?? null,
    }, {clock: systemClock, procs: procTable, gate: await makeGate({stateDir: layout.dir}), places: registryPlaces(layout.dir), stderr})
  },
}

export default spec
