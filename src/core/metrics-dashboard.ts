/**
 * `medic dashboard`: a Grafana dashboard (the classic JSON model, schemaVersion 39, for
 * Dashboards → Import) over the series medic commands write (core/metrics-check.ts).
 * Variables: the Prometheus data source, then instance, command and subject taken from
 * medic_check_status. Every query names only medic's own series.
 */

const SEL = 'instance=~"$instance",command=~"$command",subject=~"$subject"'
const DS = {type: 'prometheus', uid: '${datasource}'}
const WHO = '{{instance}} {{command}} {{subject}}'

const STATUS_MAPPINGS = [
  {type: 'value', options: {
    0: {text: 'OK', color: 'green', index: 0},
    1: {text: 'RECOVERED', color: 'blue', index: 1},
    2: {text: 'ALERT', color: 'red', index: 2},
    3: {text: 'UNKNOWN', color: 'orange', index: 3},
  }},
]

interface PanelSpec {
  title: string
  type: 'stat' | 'state-timeline' | 'timeseries' | 'table'
  w: number
  h: number
  targets: {expr: string; legendFormat: string}[]
  unit?: string
  description: string
  mappings?: unknown[]
  thresholds?: {color: string; value: number | null}[]
  options?: Record<string, unknown>
}

const PANELS: PanelSpec[] = [
  {
    title: 'Status now', type: 'stat', w: 24, h: 6, description: 'Line 1 of the last run of every check: OK, RECOVERED, ALERT or UNKNOWN.',
    targets: [{expr: `medic_check_status{${SEL}}`, legendFormat: WHO}], mappings: STATUS_MAPPINGS,
    thresholds: [{color: 'green', value: null}, {color: 'blue', value: 1}, {color: 'red', value: 2}, {color: 'orange', value: 3}],
    options: {reduceOptions: {calcs: ['lastNotNull'], fields: '', values: false}, colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', orientation: 'auto'},
  },
  {
    title: 'Status over time', type: 'state-timeline', w: 24, h: 8, description: 'Each check\'s status run by run.',
    targets: [{expr: `medic_check_status{${SEL}}`, legendFormat: WHO}], mappings: STATUS_MAPPINGS,
    thresholds: [{color: 'green', value: null}, {color: 'blue', value: 1}, {color: 'red', value: 2}, {color: 'orange', value: 3}],
    options: {showValue: 'never', mergeValues: true, rowHeight: 0.9},
  },
  {
    title: 'Since the last run', type: 'stat', w: 12, h: 6, unit: 's', description: 'A check whose timer, cron line or unit stopped grows here (MedicCheckStale).',
    targets: [{expr: `time() - medic_check_last_run_timestamp_seconds{${SEL}}`, legendFormat: WHO}],
    thresholds: [{color: 'green', value: null}, {color: 'orange', value: 600}, {color: 'red', value: 900}],
    options: {reduceOptions: {calcs: ['lastNotNull'], fields: '', values: false}, colorMode: 'value', graphMode: 'none', textMode: 'value_and_name'},
  },
  {
    title: 'Check duration', type: 'timeseries', w: 12, h: 6, unit: 's', description: 'How long each run took (a repair includes its verification).',
    targets: [{expr: `medic_check_duration_seconds{${SEL}}`, legendFormat: WHO}],
  },
  {
    title: 'Repairs per hour', type: 'timeseries', w: 12, h: 7, unit: 'short', description: 'Repairs medic attempted, recovered or failed.',
    targets: [{expr: `sum by (instance, command, subject, result) (increase(medic_repairs_total{${SEL}}[1h]))`, legendFormat: `${WHO} {{result}}`}],
  },
  {
    title: 'Signals delivered per hour', type: 'timeseries', w: 12, h: 7, unit: 'short', description: 'SIGTERM, SIGKILL … medic sent to free a port or stop a service.',
    targets: [{expr: `sum by (instance, command, subject) (increase(medic_kills_total{${SEL}}[1h]))`, legendFormat: WHO}],
  },
  {
    title: 'Health problems', type: 'state-timeline', w: 24, h: 8, description: 'Each problem medic health finds (RESTART_LOOP, ORPHAN_PROCESS, LOG_PATTERN …): 1 while found.',
    targets: [{expr: `medic_health_problem{${SEL}} == 1`, legendFormat: `${WHO} {{problem}}`}],
    mappings: [{type: 'value', options: {1: {text: 'found', color: 'red', index: 0}}}],
    options: {showValue: 'never', mergeValues: true, rowHeight: 0.9},
  },
  {
    title: 'Repair budget spent', type: 'stat', w: 8, h: 6, description: '1: medic stopped repairing this check until its window frees a repair (MedicRepairBudgetSpent).',
    targets: [{expr: `medic_repair_budget_exhausted{${SEL}}`, legendFormat: WHO}],
    mappings: [{type: 'value', options: {0: {text: 'ok', color: 'green', index: 0}, 1: {text: 'SPENT', color: 'red', index: 1}}}],
    thresholds: [{color: 'green', value: null}, {color: 'red', value: 1}],
    options: {reduceOptions: {calcs: ['lastNotNull'], fields: '', values: false}, colorMode: 'background', graphMode: 'none', textMode: 'value_and_name'},
  },
  {
    title: 'Supervised restarts per hour', type: 'timeseries', w: 8, h: 6, unit: 'short', description: 'Restarts of the child of medic supervise.',
    targets: [{expr: `increase(medic_supervise_restarts_total{${SEL}}[1h])`, legendFormat: WHO}],
  },
  {
    title: 'Notifications per hour', type: 'timeseries', w: 8, h: 6, unit: 'short', description: 'Notifications on a change of status: sent, failed, held back by the rate limit.',
    targets: [{expr: `sum by (instance, command, subject, result) (increase(medic_notifications_total{${SEL}}[1h]))`, legendFormat: `${WHO} {{result}}`}],
  },
]

function layout(): {x: number; y: number}[] {
  const pos: {x: number; y: number}[] = []
  let x = 0
  let y = 0
  let rowH = 0
  for (const p of PANELS) {
    if (x + p.w > 24) {
      x = 0
      y += rowH
      rowH = 0
    }
    pos.push({x, y})
    x += p.w
    rowH = Math.max(rowH, p.h)
  }
  return pos
}

const variable = (name: string, label: string, query: string) => ({
  name, label, type: 'query', datasource: DS, query: {query, refId: `${name}-var`}, definition: query,
  refresh: 2, includeAll: true, multi: true, allValue: '.*', current: {text: 'All', value: '$__all'}, sort: 1, hide: 0,
})

export function dashboard(): {title: string; panels: {title: string}[]; [key: string]: unknown} {
  const pos = layout()
  return {
    __inputs: [{name: 'DS_PROMETHEUS', label: 'Prometheus', description: 'where node_exporter (with medic\'s textfiles) is scraped', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus'}],
    __requires: [
      {type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0'},
      {type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0'},
      ...['stat', 'state-timeline', 'timeseries'].map((id) => ({type: 'panel', id, name: id, version: ''})),
    ],
    uid: 'medic-checks',
    title: 'medic checks',
    description: 'Every medic check of every host: status, staleness, repairs, signals, problems, budgets, notifications (medic dashboard).',
    tags: ['medic'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '1m',
    time: {from: 'now-24h', to: 'now'},
    timepicker: {},
    annotations: {list: []},
    links: [],
    templating: {
      list: [
        {name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: ''},
        variable('instance', 'Host', 'label_values(medic_check_status, instance)'),
        variable('command', 'Command', 'label_values(medic_check_status{instance=~"$instance"}, command)'),
        variable('subject', 'Subject', 'label_values(medic_check_status{instance=~"$instance",command=~"$command"}, subject)'),
      ],
    },
    panels: PANELS.map((p, i) => ({
      id: i + 1,
      type: p.type,
      title: p.title,
      description: p.description,
      datasource: DS,
      gridPos: {h: p.h, w: p.w, x: pos[i].x, y: pos[i].y},
      targets: p.targets.map((t, k) => ({refId: String.fromCharCode(65 + k), datasource: DS, expr: t.expr, legendFormat: t.legendFormat, range: true, instant: false})),
      fieldConfig: {
        defaults: {
          ...(p.unit ? {unit: p.unit} : {}),
          mappings: p.mappings ?? [],
          thresholds: {mode: 'absolute', steps: p.thresholds ?? [{color: 'green', value: null}]},
          color: {mode: p.thresholds || p.mappings ? 'thresholds' : 'palette-classic'},
        },
        overrides: [],
      },
      options: p.options ?? {legend: {displayMode: 'list', placement: 'bottom', showLegend: true}, tooltip: {mode: 'multi', sort: 'desc'}},
    })),
  }
}
