import {UNMEASURED_FLAGS} from '../common-flags.js'
import {DOCUMENT_FLAGS} from '../print-or-write.js'
import {command} from '../spec.js'

const spec = command({
  id: 'rules',
  subject: 'RULES',
  observable: false,
  summary: 'Print (or write) Prometheus alerting rules over the metrics every medic check writes with --metrics-file.',
  description: `Alerting rules over the series of --metrics-file / $MEDIC_TEXTFILE_DIR (node_exporter's textfile collector): MedicCheckStale (a check that stopped running: its timer, cron line or unit), MedicCheckAlert and MedicCheckUnknown (ALERT or UNKNOWN for --alert-for), MedicRepairBudgetSpent, MedicRepairFailed, MedicRestartLoop (health's RESTART_LOOP), MedicSuperviseRestarting, MedicLogPattern (health --log-pattern), MedicNotifyFailing and MedicTextfileError (node_exporter cannot read a textfile). Every expression names only series medic and node_exporter emit; the test suite runs 'promtool check rules' and 'promtool test rules' with a unit test for every alert. The Ollama rules are 'medic ollama rules'.

RULES_OK   the rules were written (--file) or printed (-v prints them after line 1; --raw prints only the YAML)`,
  examples: ['<%= config.bin %> <%= command.id %> --raw > /etc/prometheus/rules/medic.yml', '<%= config.bin %> <%= command.id %> --stale-after 30m --alert-for 15m --file /etc/prometheus/rules/medic.yml'],
  flags: {
    ...DOCUMENT_FLAGS('rules YAML'),
    'stale-after': {type: 'duration', default: '15m', min: 60_000, description: 'MedicCheckStale: a check whose last run is older than this (3 × its interval is a good value).'},
    'alert-for': {type: 'duration', default: '10m', min: 60_000, description: 'MedicCheckAlert / MedicCheckUnknown: how long the status must hold.'},
    'supervise-restarts': {type: 'integer', default: '5', min: 1, description: 'MedicSuperviseRestarting: restarts of a supervised child in one hour.'},
    ...UNMEASURED_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{checkRulesYaml, checkAlerts}, {printOrWrite}] = await Promise.all([import('../../core/metrics-rules.js'), import('../print-or-write.js')])
    const o = {staleAfterMs: f['stale-after'], alertForMs: f['alert-for'], superviseRestarts: f['supervise-restarts']}
    const yaml = checkRulesYaml(o)
    await printOrWrite(f, yaml)
    const alerts = checkAlerts(o)
    return {subject: 'RULES', status: 'OK', summary: `${alerts.length} alerting rules${f.file ? ` written to ${f.file}` : ''}: ${alerts.map((a) => a.alert).join(', ')}`, checks: [], actions: [], details: yaml.trimEnd().split('\n')}
  },
})

export default spec
