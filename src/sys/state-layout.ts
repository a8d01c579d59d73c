import {homedir} from 'node:os'
import {join} from 'node:path'
import {nameProblem} from '../core/names.js'
import {Refusal} from '../core/verdict.js'
import {unsafeStateDir} from './file-gate.js'

/**
 * Where state lives — `--state-dir`, else `MEDIC_STATE_DIR`, else `/var/lib/medic` for
 * root and `$XDG_STATE_HOME/medic` (default `~/.local/state/medic`) for everyone else,
 * never a world-writable directory such as /tmp by default. This is the one place that
 * resolves it: the `--state-dir` flag carries no `env` of its own.
 */
export function resolveStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (explicit) return explicit
  if (env.MEDIC_STATE_DIR) return env.MEDIC_STATE_DIR
  if (uid === 0) return ROOT_STATE_DIR
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'medic')
}

/** Root's default state dir: where a root guard (or any root medic without --state-dir) keeps its state. */
export const ROOT_STATE_DIR = '/var/lib/medic'

/**
 * The state dirs whose medic guard records explain a kill (kill-trace, run-dev-safe's
 * trace): this run's own, and a root guard's default one, read only (never created).
 */
export function guardRecordLayouts(own: StateLayout): StateLayout[] {
  return own.dir === ROOT_STATE_DIR ? [own] : [own, new StateLayout(ROOT_STATE_DIR)]
}

/**
 * The state dir the user named — `--state-dir`, else `MEDIC_STATE_DIR` — or undefined for
 * the default: what `medic install` writes into the unit it installs, so the installed
 * command keeps the same state dir without reading the environment itself.
 */
export function namedStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return explicit ?? (env.MEDIC_STATE_DIR || undefined)
}

/**
 * Every file medic keeps under its state dir, named here and nowhere else:
 *
 *   protected/<pid>-<starttime>.json       run-dev-safe / protect add (the protected registry)
 *   locks/<target>.lock                    one repair at a time per target
 *   health/<name>.json                     health: owners, restart samples, repair budget, --log-pattern position
 *   health/<name>.log                      health: its log (when no --log-file)
 *   health/<name>.commands.log             health: output of --start-cmd/--stop-cmd
 *   supervise/<name>.json                  supervise: state read by status, health, boot
 *   supervise/<name>.pid                   supervise: its pid file (with the start time)
 *   supervise/<name>.log                   supervise: its log (when no --log-file)
 *   supervise/<name>.out.log               supervise: the child's stdout+stderr (capped)
 *   supervise/<name>.supervisor.err        boot: the detached supervisor's own stderr
 *   watchdog/<name>-hang.json              watchdog: since when a gateway is in D/Z
 *   ollama/frozen-<host>.json              ollama frozen-check: state between passes
 *   ollama/exporter-<host>.json            ollama metrics: when the API last answered
 *   ollama/diag-<UTC stamp>/               ollama frozen-check: diagnostics before a remediation
 *   run-dev-safe/<name>.log                run-dev-safe: the job's output (when no --log-file)
 *   install/<name>.json                    install: the manifest of what it wrote (verify, uninstall)
 *   install/<name>.log                     install: the installed command's log (when it has no --log-file)
 *   last/<command-id-with-dashes>.<SUBJECT>.json   the runner: the last verdict of each command and subject
 *   last/install/<name>.json                       the runner, under MEDIC_INSTALL_NAME: the last verdict of that install's runs
 *   metrics/<command-id-with-dashes>.<SUBJECT>.json  --metrics-file: counters that survive runs (repairs, kills, restarts, notifications)
 *   notify/<command-id-with-dashes>.<SUBJECT>.json   --notify/--notify-url: what each channel was last told, the rate limit
 *   guard/state.json                       guard: consecutive samples over a limit, its victims, its kill budget
 *   guard/actions.jsonl                    guard: one JSON line per action (victim, reason, samples) — kill-trace reads it
 *
 * Names reaching here are validated (core/names.ts); a name that could leave its folder
 * is refused again here, whoever forgot to check.
 */
export class StateLayout {
  constructor(readonly dir: string) {}

  get protectedDir(): string {
    return join(this.dir, 'protected')
  }

  protectedEntry(pid: number, startTime: string): string {
    return join(this.protectedDir, `${pid}-${part(startTime)}.json`)
  }

  get locksDir(): string {
    return join(this.dir, 'locks')
  }

  /** A lock per target (`port-18789`, `health-gateway`): anything else in the name becomes `_`. */
  lock(target: string): string {
    return join(this.locksDir, `${target.replace(/[^A-Za-z0-9@._-]+/g, '_').slice(0, 200)}.lock`)
  }

  get healthDir(): string {
    return join(this.dir, 'health')
  }

  healthState(name: string): string {
    return join(this.healthDir, `${part(name)}.json`)
  }

  healthLog(name: string): string {
    return join(this.healthDir, `${part(name)}.log`)
  }

  healthCommandsLog(name: string): string {
    return join(this.healthDir, `${part(name)}.commands.log`)
  }

  get superviseDir(): string {
    return join(this.dir, 'supervise')
  }

  superviseState(name: string): string {
    return join(this.superviseDir, `${part(name)}.json`)
  }

  supervisePid(name: string): string {
    return join(this.superviseDir, `${part(name)}.pid`)
  }

  superviseLog(name: string): string {
    return join(this.superviseDir, `${part(name)}.log`)
  }

  superviseChildLog(name: string): string {
    return join(this.superviseDir, `${part(name)}.out.log`)
  }

  superviseErr(name: string): string {
    return join(this.superviseDir, `${part(name)}.supervisor.err`)
  }

  watchdogHang(name: string): string {
    return join(this.dir, 'watchdog', `${part(name)}-hang.json`)
  }

  get ollamaDir(): string {
    return join(this.dir, 'ollama')
  }

  /** `host` is the Ollama URL's host:port; anything but `[A-Za-z0-9._-]` becomes `_`. */
  ollamaFrozen(host: string): string {
    return join(this.ollamaDir, `frozen-${host.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`)
  }

  /** `host` as for ollamaFrozen. */
  ollamaExporter(host: string): string {
    return join(this.ollamaDir, `exporter-${host.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`)
  }

  ollamaDiag(stamp: string): string {
    return join(this.ollamaDir, `diag-${part(stamp)}`)
  }

  get installDir(): string {
    return join(this.dir, 'install')
  }

  installManifest(name: string): string {
    return join(this.installDir, `${part(name)}.json`)
  }

  installLog(name: string): string {
    return join(this.installDir, `${part(name)}.log`)
  }

  get lastDir(): string {
    return join(this.dir, 'last')
  }

  /** `health` + `GATEWAY` → last/health.GATEWAY.json; `ollama frozen-check` → last/ollama-frozen-check.OLLAMA.json. */
  lastVerdict(commandId: string, subject: string): string {
    return join(this.lastDir, `${part(commandId.replace(/ /g, '-'))}.${part(subject)}.json`)
  }

  /**
   * The last verdict of one install's own runs (its unit or cron line sets MEDIC_INSTALL_NAME):
   * `gwdead` → last/install/gwdead.json. verify judges an install by this record only, never by
   * another run of the same command and subject.
   */
  installLastVerdict(name: string): string {
    return join(this.lastDir, 'install', `${part(name)}.json`)
  }

  /** `health` + `GATEWAY` → metrics/health.GATEWAY.json. */
  metricsCounters(commandId: string, subject: string): string {
    return join(this.dir, 'metrics', `${part(commandId.replace(/ /g, '-'))}.${part(subject)}.json`)
  }

  /** `health` + `GATEWAY` → notify/health.GATEWAY.json. */
  notifyRecord(commandId: string, subject: string): string {
    return join(this.dir, 'notify', `${part(commandId.replace(/ /g, '-'))}.${part(subject)}.json`)
  }

  get guardDir(): string {
    return join(this.dir, 'guard')
  }

  get guardState(): string {
    return join(this.guardDir, 'state.json')
  }

  get guardActions(): string {
    return join(this.guardDir, 'actions.jsonl')
  }

  get devRunDir(): string {
    return join(this.dir, 'run-dev-safe')
  }

  devRunLog(name: string): string {
    return join(this.devRunDir, `${part(name)}.log`)
  }
}

/**
 * The layout of `--state-dir` (or the default). As root, a state dir another user can
 * change is refused here, before any command reads or writes it (docs/contract.md §3.7).
 */
export function stateLayout(explicit?: string): StateLayout {
  const dir = resolveStateDir(explicit)
  const unsafe = unsafeStateDir(dir)
  if (unsafe) throw new Refusal(`state dir ${dir} refused: ${unsafe}; as root medic keeps state only where no other user can change it`)
  return new StateLayout(dir)
}

/** One path component made from a name (core/names.ts): never a separator, never dots alone, never empty or too long. */
function part(name: string): string {
  const why = nameProblem(name)
  if (why) throw new Error(`not a name for a state file: ${JSON.stringify(name.slice(0, 80))}: ${why}`)
  return name
}
