/**
 * `medic rules`: Prometheus alerting rules over the series every verdict command writes
 * with --metrics-file (core/metrics-check.ts). Each names only series medic (or
 * node_exporter's textfile collector, for the last one) emits; the test suite runs
 * `promtool check rules` and `promtool test rules` with a firing case for every alert.
 */
import {stringify} from 'yaml'
import {formatMs} from './duration.js'

export interface RuleOptions {
  /** A check whose last run is older than this is stale (its timer, cron or unit stopped). */
  staleAfterMs: number
  /** ALERT for this long fires MedicCheckAlert. */
  alertForMs: number
  /** supervise restarts in one hour that make a restart loop. */
  superviseRestarts: number
}

export const RULE_DEFAULTS: RuleOptions = {staleAfterMs: 15 * 60_000, alertForMs: 10 * 60_000, superviseRestarts: 5}

export interface CheckAlert {
  alert: string
  expr: string
  for: string
  labels: {severity: 'critical' | 'warning'}
  annotations: {summary: string; description: string; runbook: string}
}

/** Prometheus durations: whole minutes as `Nm`, else seconds. */
function promDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.max(1, Math.round(ms / 1000))}s`
}

export function checkAlerts(o: RuleOptions = RULE_DEFAULTS): CheckAlert[] {
  const who = '{{ $labels.command }} {{ $labels.subject }} on {{ $labels.instance }}'
  return [
    {
      alert: 'MedicCheckStale', for: '0m',
      expr: `time() - medic_check_last_run_timestamp_seconds > ${Math.round(o.staleAfterMs / 1000)}`,
      labels: {severity: 'warning'},
      annotations: {summary: `medic ${who} has not run for ${formatMs(o.staleAfterMs)}`, description: 'Its last run ended {{ $value | humanizeDuration }} ago: its timer, cron line or unit is not running (scripts in git are not scripts running).', runbook: 'medic verify; systemctl list-timers; journalctl -u <its unit>'},
    },
    {
      alert: 'MedicCheckAlert', for: promDuration(o.alertForMs),
      expr: 'medic_check_status == 2',
      labels: {severity: 'critical'},
      annotations: {summary: `medic ${who} says ALERT for ${formatMs(o.alertForMs)}`, description: 'Something is wrong and medic has not fixed it (repair off, refused, failed or over budget).', runbook: 'run the same medic command with -v on the host: the checks and actions say what it saw and why it did not act'},
    },
    {
      alert: 'MedicCheckUnknown', for: promDuration(o.alertForMs),
      expr: 'medic_check_status == 3',
      labels: {severity: 'warning'},
      annotations: {summary: `medic ${who} cannot tell (UNKNOWN) for ${formatMs(o.alertForMs)}`, description: 'Bad input, a missing tool or permission, or medic itself failing: the check is blind.', runbook: 'run the same medic command by hand: line 1 says what is wrong'},
    },
    {
      alert: 'MedicRepairBudgetSpent', for: '1m',
      expr: 'medic_repair_budget_exhausted == 1',
      labels: {severity: 'critical'},
      annotations: {summary: `medic stopped repairing ${who}: its repair budget is spent`, description: 'Repairs did not hold; medic will not act again until the window frees a repair. A person is needed.', runbook: 'read the check with -v and its log; fix the cause; the budget frees itself after --repair-window'},
    },
    {
      alert: 'MedicRepairFailed', for: '0m',
      expr: 'increase(medic_repairs_total{result="failed"}[1h]) > 0',
      labels: {severity: 'warning'},
      annotations: {summary: `a repair of ${who} failed in the last hour`, description: '{{ $value }} failed repairs in the last hour.', runbook: 'the check with -v; the service log; medic health --dry-run shows what it would do'},
    },
    {
      alert: 'MedicRestartLoop', for: '5m',
      expr: 'medic_health_problem{problem="RESTART_LOOP"} == 1',
      labels: {severity: 'critical'},
      annotations: {summary: `${who} is in a restart loop`, description: 'More restarts in the last hour than the --loop-threshold of medic health (seed 001: 388 an hour).', runbook: 'journalctl -u <unit> -n 200: why does it die? (an expired token, an orphan on the port)'},
    },
    {
      alert: 'MedicSuperviseRestarting', for: '0m',
      expr: `increase(medic_supervise_restarts_total[1h]) > ${o.superviseRestarts}`,
      labels: {severity: 'warning'},
      annotations: {summary: `medic supervise restarted ${who} more than ${o.superviseRestarts} times in an hour`, description: '{{ $value }} restarts in the last hour.', runbook: "medic supervise status --name <name> -v; the child's log in the state dir (supervise/<name>.out.log)"},
    },
    {
      alert: 'MedicLogPattern', for: '0m',
      expr: 'medic_health_problem{problem="LOG_PATTERN"} == 1',
      labels: {severity: 'warning'},
      annotations: {summary: `${who} logs lines matching its --log-pattern`, description: 'The service answers its probe but its log says it is failing (seed 001: OAuth token refresh failed).', runbook: 'journalctl -u <unit> --since -1h | grep -E <pattern>'},
    },
    {
      alert: 'MedicNotifyFailing', for: '0m',
      expr: 'increase(medic_notifications_total{result="failed"}[1h]) > 0',
      labels: {severity: 'warning'},
      annotations: {summary: `notifications of ${who} fail`, description: '{{ $value }} failed deliveries in the last hour: people are not being told of changes.', runbook: 'the stderr or --log-file of the check names the channel and the error; test the receiver by hand'},
    },
    {
      alert: 'MedicTextfileError', for: '5m',
      expr: 'node_textfile_scrape_error == 1',
      labels: {severity: 'warning'},
      annotations: {summary: 'node_exporter on {{ $labels.instance }} cannot read a textfile', description: 'A .prom file in the textfile directory does not parse, or two files carry the same series: every medic metric from this host may be stale.', runbook: 'journalctl -u prometheus-node-exporter; promtool check metrics < each .prom file'},
    },
  ]
}

export function checkRulesYaml(o: RuleOptions = RULE_DEFAULTS): string {
  const alerts = checkAlerts(o)
  const doc = {groups: [{name: 'medic-checks', rules: alerts.map((a) => ({alert: a.alert, expr: a.expr, for: a.for, labels: a.labels, annotations: a.annotations}))}]}
  const head = [
    '# medic rules: Prometheus alerting rules over the series medic commands write with',
    '# --metrics-file / $MEDIC_TEXTFILE_DIR (node_exporter textfile collector).',
    `# Stale after ${formatMs(o.staleAfterMs)}; ALERT or UNKNOWN for ${formatMs(o.alertForMs)}; supervise loop at ${o.superviseRestarts} restarts an hour.`,
  ]
  return head.join('\n') + '\n' + stringify(doc, {lineWidth: 0})
}
