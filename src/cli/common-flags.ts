import {flagSet, type FlagSpec, type FlagValues} from './spec.js'

/** Flags every verdict command takes (docs/contract.md §2). */
export const COMMON_FLAGS = flagSet({
  json: {type: 'boolean', description: 'Print exactly one JSON object on stdout instead of the token line.'},
  verbose: {type: 'boolean', char: 'v', multiple: true, description: 'Add detail lines (checks, actions, timings) after line 1.'},
  'exit-codes': {
    type: 'enum',
    options: ['nagios', 'binary'],
    env: 'MEDIC_EXIT_CODES',
    default: 'nagios',
    description: 'nagios: OK 0, RECOVERED 1, ALERT 2, UNKNOWN 3. binary: OK/RECOVERED 0, ALERT/UNKNOWN 1 (systemd ExecStartPre, Docker HEALTHCHECK).',
  },
  timeout: {type: 'duration', min: 1, description: 'Deadline for the whole command (e.g. 30s; at least 1ms). A service that hangs past it is ALERT; medic itself hanging is UNKNOWN.'},
  'state-dir': {type: 'string', description: 'Where locks and state live (default $MEDIC_STATE_DIR, else /var/lib/medic as root, else $XDG_STATE_HOME/medic).'},
  'log-file': {type: 'string', description: 'Append one ISO-8601-stamped line per run and per action to this file (size-capped).'},
  'metrics-file': {type: 'string', description: "Write this check's Prometheus textfile here for node_exporter (atomically; other checks' series in the file stay). Without it, $MEDIC_TEXTFILE_DIR writes <dir>/medic-<command>-<subject>.prom."},
  perfdata: {type: 'boolean', description: "Append Nagios/Icinga performance data to line 1 after ' | ' (label=value[UOM];warn;crit;min;max)."},
  notify: {type: 'string', description: 'On a change of status, run this command (split like ExecStart=, no shell) with the verdict JSON on stdin.'},
  'notify-url': {type: 'string', description: 'On a change of status, POST it to this URL (body: --notify-format).'},
  'notify-format': {type: 'enum', options: ['json', 'alertmanager', 'ntfy', 'slack', 'telegram'], default: 'json', description: 'Body of --notify-url: the verdict JSON, Alertmanager API v2 alerts, an ntfy message, a Slack or a Telegram Bot API message.'},
  'notify-limit': {type: 'integer', default: '6', min: 1, max: 3600, description: 'Notifications per hour per channel and check; a change past it is sent (as the status then) once the hour allows.'},
  'notify-timeout': {type: 'duration', default: '5s', description: 'Deadline of one notification: the command is killed, the POST dropped; a failure is logged, counted and retried on a later run.'},
})

const {'metrics-file': _metricsFile, ...unmeasured} = COMMON_FLAGS
/** COMMON_FLAGS but --metrics-file: for commands that are no check (install, uninstall, rules, dashboard), where it would mean nothing. */
export const UNMEASURED_FLAGS = unmeasured

/**
 * The common flags' values of a command the runner knows only as a CommandSpec: every
 * command declares COMMON_FLAGS (test/cli/contract.test.ts gives each of them --timeout,
 * --exit-codes and --json), so they are there, typed as declared.
 */
export function commonValues(flags: FlagValues): FlagValues<typeof COMMON_FLAGS> {
  return flags as FlagValues<typeof COMMON_FLAGS>
}

/**
 * --config for the commands that read medic's config file (services, protect: patterns).
 * Not in COMMON_FLAGS: guard, isolation, isolate and run-dev-safe take --config for the
 * isolation config instead.
 */
export const CONFIG_FLAG = flagSet({
  config: {type: 'string', description: "Config file: services and protect: patterns (default: the first medic.config.{json,yaml} or config.{json,yaml} in $XDG_CONFIG_HOME/medic, ~/.config/medic, /etc/medic; never the working directory)."},
}).config

/**
 * Whether the run is observed (issue 13: metrics, notifications): a look at flags only,
 * so a run without them loads none of that code (docs/startup.md).
 */
export function observed(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, spec: {flags: Record<string, FlagSpec>; observable?: boolean}): boolean {
  return Boolean((ownsMetricsFlag(spec) ? false : flags['metrics-file']) || flags.notify || flags['notify-url'] || (spec.observable !== false && env.MEDIC_TEXTFILE_DIR))
}

/**
 * A command whose --metrics-file is its own textfile (ollama frozen-check, the seed
 * monitor's). By its text, not identity: the observer's bundle has its own copy of this module.
 */
export function ownsMetricsFlag(spec: {flags: Record<string, FlagSpec>}): boolean {
  return spec.flags['metrics-file']?.description !== COMMON_FLAGS['metrics-file'].description
}
