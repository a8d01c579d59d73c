import {COMMON_FLAGS} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'isolation',
  subject: 'GUARD',
  summary: "Write the one config medic guard and run-dev-safe read (limits per mode, dev and daemon patterns, nice level) — setup_resource_isolation.sh's intent, idempotent, no source file touched.",
  description: `Replaces setup_resource_isolation.sh. Writes <PROJECT_ROOT>/medic.isolation.json atomically (a temporary file, then a rename) and only when its content changes, so running it again changes nothing: the limits of every mode (the script's LIMITS_BY_MODE: cpu 80/85/95 %, memory 85/88/95 %, kill-cpu 95/90/98 %, startup grace 60/30/120 s, prefer nice over kill in dev and test; disk 90/90/95 % from the protector), the dev patterns (pytest, 03_run_500_cycles, MASTER_RECOVERY, jupyter, …) and daemon patterns (uvicorn, qdrant, redis, …) the guard never touches, the nice level of dev jobs, run-dev-safe's defaults (--nice, --memory-max, --cpu-weight). MODE is validated (dev, test or prod; default test, as the script's).

Unlike the script it edits no source file, appends nothing, and a file of that name medic did not write is never replaced. Changing the mode keeps hand-edited limits and patterns (--reset: the defaults again). --write-env-file FILE also writes an env file (relative to PROJECT_ROOT; the script's name was .env.resource_config) whose every line is exported — MEDIC_ISOLATION_CONFIG, MEDIC_GUARD_MODE and the script's OMNIMIND_* variables — so children of the shell that sources it inherit them.

The output says how medic guard and medic run-dev-safe pick it up: --config FILE, or $MEDIC_ISOLATION_CONFIG.

GUARD_OK       written, or already up to date
GUARD_ALERT    not written: a file medic did not write is in the way, or the existing config is invalid
GUARD_UNKNOWN  bad input (no such directory, a mode that is not dev, test or prod)`,
  examples: [
    '<%= config.bin %> <%= command.id %> . test',
    '<%= config.bin %> <%= command.id %> ~/projects/omnimind dev --write-env-file .env.resource_config',
    '<%= config.bin %> <%= command.id %> . prod --memory-max 8GiB --dry-run',
  ],
  args: [
    {name: 'project_root', type: 'string', description: 'Where the config is written (default: the current directory).'},
    {name: 'mode', type: 'string', description: 'dev, test or prod (default test).'},
  ],
  flags: {
    // Not --env-file: Node 20 takes any --env-file argument as its own option, even after the script (nodejs/node#54232), and exits 9.
    'write-env-file': {type: 'string', description: 'Also write this env file (relative to PROJECT_ROOT; the seed\'s was .env.resource_config), every line exported.'},
    nice: {type: 'integer', min: -20, max: 19, description: "run-dev-safe's nice level for dev jobs (default 10)."},
    'memory-max': {type: 'size', description: "run-dev-safe's default memory budget for a job (its own cgroup)."},
    'cpu-weight': {type: 'integer', min: 1, max: 10000, description: "run-dev-safe's default CPU weight for a job (its own cgroup)."},
    reset: {type: 'boolean', description: 'Start from the defaults, dropping hand edits of the config.'},
    'dry-run': {type: 'boolean', description: 'Say what would be written; write nothing.'},
    ...COMMON_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{isolation}, {isolationFiles}, {isMode, MIN_MEMORY_MAX}, {UsageError}] = await Promise.all([import('../../ops/isolation.js'), import('../../sys/guard-store.js'), import('../../core/guard-config.js'), import('../parse.js')])
    const [root = '.', mode = 'test'] = parsed.positionals
    if (!isMode(mode)) throw new UsageError(`mode ${JSON.stringify(mode)}: expected dev, test or prod`)
    const memoryMax = f['memory-max']
    if (memoryMax !== undefined && memoryMax < MIN_MEMORY_MAX) throw new UsageError(`--memory-max ${memoryMax}: at least ${MIN_MEMORY_MAX / 1024 / 1024}MiB`)
    return isolation({
      root, mode, envFile: f['write-env-file'] ?? null, reset: f.reset === true, dryRun: f['dry-run'] === true,
      runDevSafe: {...(f.nice !== undefined ? {nice: f.nice} : {}), ...(memoryMax !== undefined ? {memoryMax} : {}), ...(f['cpu-weight'] !== undefined ? {cpuWeight: f['cpu-weight']} : {})},
    }, isolationFiles)
  },
})

export default spec
