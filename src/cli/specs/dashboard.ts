import {UNMEASURED_FLAGS} from '../common-flags.js'
import {DOCUMENT_FLAGS} from '../print-or-write.js'
import {command} from '../spec.js'

const spec = command({
  id: 'dashboard',
  subject: 'DASHBOARD',
  observable: false,
  summary: 'Print (or write) a Grafana dashboard over the metrics every medic check writes with --metrics-file.',
  description: `A Grafana dashboard (the JSON model of Dashboards → Import, schemaVersion 39) over the series of --metrics-file / $MEDIC_TEXTFILE_DIR: status now and over time, seconds since each check last ran, check duration, repairs and signals per hour, health problems, repair budgets, supervised restarts and notifications. Variables: the Prometheus data source, then host (instance), command and subject. The test suite checks it against a JSON schema of the dashboard model and every query with promtool.

DASHBOARD_OK   the dashboard was written (--file) or printed (--raw prints only the JSON)`,
  examples: ['<%= config.bin %> <%= command.id %> --raw > medic-dashboard.json', '<%= config.bin %> <%= command.id %> --file /var/lib/grafana/dashboards/medic.json'],
  flags: {
    ...DOCUMENT_FLAGS('dashboard JSON'),
    ...UNMEASURED_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{dashboard}, {printOrWrite}] = await Promise.all([import('../../core/metrics-dashboard.js'), import('../print-or-write.js')])
    const d = dashboard()
    const json = JSON.stringify(d, null, 2) + '\n'
    // Its own earlier output: a dashboard with its uid (a user's copy of it too, by design: re-imported from medic).
    await printOrWrite(f, json, (old) => {
      try {
        return (JSON.parse(old) as {uid?: unknown}).uid === d.uid
      } catch {
        return false
      }
    })
    const panels = d.panels
    return {subject: 'DASHBOARD', status: 'OK', summary: `Grafana dashboard "${d.title}", ${panels.length} panels${f.file ? `, written to ${f.file}` : ''}`, checks: [], actions: [], details: panels.map((p) => `panel: ${p.title}`)}
  },
})

export default spec
