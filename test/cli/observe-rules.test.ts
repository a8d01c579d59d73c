import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import AjvModule from 'ajv'
import {afterEach, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'
import {FAMILY_HELP} from '../../src/core/metrics-check.js'
import {checkAlerts, RULE_DEFAULTS} from '../../src/core/metrics-rules.js'
import {BIN, expectContract, freePort, Janitor, medic, ROOT, startService} from '../helpers/procs.js'
import {have, promtool, PROMTOOL} from '../helpers/prom-tools.js'

const j = new Janitor()
afterEach(() => j.cleanup())
const havePromtool = have(PROMTOOL)

const raw = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--raw'], {encoding: 'utf8'})
  expect(r.status, r.stderr).toBe(0)
  return r.stdout
}

// promtool unit tests: a firing case (and a quiet one) for EVERY alert of `medic rules`.
const I = {instance: 'box:9100'}
const ID = {command: 'health', subject: 'GATEWAY'}
const series = (name: string, labels: Record<string, string>, values: string) => ({series: `${name}{${Object.entries({...I, ...labels}).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values})
const A = Object.fromEntries(checkAlerts().map((a) => [a.alert, a]))
/** The annotations with the template variables filled as Prometheus fills them. */
const ann = (alert: string, vars: Record<string, string> = {}) => {
  const fill = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => ({...I, ...ID, ...vars}[k] ?? '')).replace(/\{\{ \$value( \| humanizeDuration)? \}\}/g, () => vars.value ?? '')
  const a = A[alert].annotations
  return {summary: fill(a.summary), description: fill(a.description), runbook: fill(a.runbook)}
}
const lab = (alert: string, extra: Record<string, string> = {}) => ({...A[alert].labels, ...I, ...extra})

const UNIT_TESTS = [
  {name: 'MedicCheckStale', interval: '1m', input_series: [series('medic_check_last_run_timestamp_seconds', ID, '0x30')], alert_rule_test: [
    {eval_time: '10m', alertname: 'MedicCheckStale', exp_alerts: []},
    {eval_time: '20m', alertname: 'MedicCheckStale', exp_alerts: [{exp_labels: lab('MedicCheckStale', ID), exp_annotations: ann('MedicCheckStale', {value: '20m 0s'})}]},
  ]},
  {name: 'MedicCheckStale quiet while the check runs', interval: '1m', input_series: [series('medic_check_last_run_timestamp_seconds', ID, '0+60x60')], alert_rule_test: [{eval_time: '50m', alertname: 'MedicCheckStale', exp_alerts: []}]},
  {name: 'MedicCheckAlert', interval: '1m', input_series: [series('medic_check_status', ID, '0 0 2x30')], alert_rule_test: [
    {eval_time: '8m', alertname: 'MedicCheckAlert', exp_alerts: []},
    {eval_time: '15m', alertname: 'MedicCheckAlert', exp_alerts: [{exp_labels: lab('MedicCheckAlert', ID), exp_annotations: ann('MedicCheckAlert')}]},
  ]},
  {name: 'MedicCheckAlert quiet on RECOVERED', interval: '1m', input_series: [series('medic_check_status', ID, '1x30')], alert_rule_test: [{eval_time: '20m', alertname: 'MedicCheckAlert', exp_alerts: []}]},
  {name: 'MedicCheckUnknown', interval: '1m', input_series: [series('medic_check_status', ID, '3x30')], alert_rule_test: [
    {eval_time: '15m', alertname: 'MedicCheckUnknown', exp_alerts: [{exp_labels: lab('MedicCheckUnknown', ID), exp_annotations: ann('MedicCheckUnknown')}]},
  ]},
  {name: 'MedicRepairBudgetSpent', interval: '1m', input_series: [series('medic_repair_budget_exhausted', ID, '0 0 1x10')], alert_rule_test: [
    {eval_time: '2m', alertname: 'MedicRepairBudgetSpent', exp_alerts: []},
    {eval_time: '5m', alertname: 'MedicRepairBudgetSpent', exp_alerts: [{exp_labels: lab('MedicRepairBudgetSpent', ID), exp_annotations: ann('MedicRepairBudgetSpent')}]},
  ]},
  {name: 'MedicRepairFailed', interval: '1m', input_series: [series('medic_repairs_total', {...ID, result: 'failed'}, '0x30 1x40'), series('medic_repairs_total', {...ID, result: 'recovered'}, '0+1x70')], alert_rule_test: [
    {eval_time: '20m', alertname: 'MedicRepairFailed', exp_alerts: []},
    {eval_time: '60m', alertname: 'MedicRepairFailed', exp_alerts: [{exp_labels: lab('MedicRepairFailed', {...ID, result: 'failed'}), exp_annotations: ann('MedicRepairFailed', {value: '1'})}]},
  ]},
  {name: 'MedicRestartLoop', interval: '1m', input_series: [series('medic_health_problem', {...ID, problem: 'RESTART_LOOP'}, '1x20'), series('medic_health_problem', {...ID, problem: 'ORPHAN_PROCESS'}, '1x20')], alert_rule_test: [
    {eval_time: '3m', alertname: 'MedicRestartLoop', exp_alerts: []},
    {eval_time: '10m', alertname: 'MedicRestartLoop', exp_alerts: [{exp_labels: lab('MedicRestartLoop', {...ID, problem: 'RESTART_LOOP'}), exp_annotations: ann('MedicRestartLoop')}]},
  ]},
  {name: 'MedicSuperviseRestarting', interval: '1m', input_series: [series('medic_supervise_restarts_total', {command: 'supervise', subject: 'SUPERVISOR'}, '0+1x70')], alert_rule_test: [
    {eval_time: '60m', alertname: 'MedicSuperviseRestarting', exp_alerts: [{exp_labels: lab('MedicSuperviseRestarting', {command: 'supervise', subject: 'SUPERVISOR'}), exp_annotations: ann('MedicSuperviseRestarting', {command: 'supervise', subject: 'SUPERVISOR', value: '60'})}]},
  ]},
  {name: 'MedicSuperviseRestarting quiet at a few restarts', interval: '1m', input_series: [series('medic_supervise_restarts_total', {command: 'supervise', subject: 'SUPERVISOR'}, '0x30 3x40')], alert_rule_test: [{eval_time: '60m', alertname: 'MedicSuperviseRestarting', exp_alerts: []}]},
  {name: 'MedicLogPattern', interval: '1m', input_series: [series('medic_health_problem', {...ID, problem: 'LOG_PATTERN'}, '0 1 1')], alert_rule_test: [
    {eval_time: '0m', alertname: 'MedicLogPattern', exp_alerts: []},
    {eval_time: '2m', alertname: 'MedicLogPattern', exp_alerts: [{exp_labels: lab('MedicLogPattern', {...ID, problem: 'LOG_PATTERN'}), exp_annotations: ann('MedicLogPattern')}]},
  ]},
  {name: 'MedicNotifyFailing', interval: '1m', input_series: [series('medic_notifications_total', {...ID, result: 'failed'}, '0x30 2x40'), series('medic_notifications_total', {...ID, result: 'sent'}, '0+1x70')], alert_rule_test: [
    {eval_time: '60m', alertname: 'MedicNotifyFailing', exp_alerts: [{exp_labels: lab('MedicNotifyFailing', {...ID, result: 'failed'}), exp_annotations: ann('MedicNotifyFailing', {value: '2'})}]},
  ]},
  {name: 'MedicTextfileError', interval: '1m', input_series: [{series: `node_textfile_scrape_error{instance="${I.instance}"}`, values: '0 0 1x10'}], alert_rule_test: [
    {eval_time: '4m', alertname: 'MedicTextfileError', exp_alerts: []},
    {eval_time: '9m', alertname: 'MedicTextfileError', exp_alerts: [{exp_labels: lab('MedicTextfileError'), exp_annotations: ann('MedicTextfileError', {command: '', subject: ''})}]},
  ]},
]

describe('medic rules', () => {
  it('RULES_OK; every expression names only series medic or node_exporter emit', async () => {
    expectContract(await medic(['rules']), 'RULES_OK')
    const doc = parse(raw(['rules'])) as {groups: {rules: {alert: string; expr: string; for: string; labels: {severity: string}; annotations: Record<string, string>}[]}[]}
    const rules = doc.groups.flatMap((g) => g.rules)
    expect(rules.map((r) => r.alert)).toEqual(checkAlerts().map((a) => a.alert))
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels.severity)
      expect(r.annotations.runbook.length, r.alert).toBeGreaterThan(10)
      for (const [, name] of r.expr.matchAll(/\b((?:medic|node)_[a-z_]+)\b/g)) expect(name in FAMILY_HELP || name === 'node_textfile_scrape_error', `${r.alert}: ${name}`).toBe(true)
    }
    const custom = parse(raw(['rules', '--stale-after', '30m', '--alert-for', '5m'])) as typeof doc
    expect(custom.groups[0].rules.find((r) => r.alert === 'MedicCheckStale')!.expr).toContain('> 1800')
    expect(custom.groups[0].rules.find((r) => r.alert === 'MedicCheckAlert')!.for).toBe('5m')
    expectContract(await medic(['rules', '--alert-for', '10s']), 'RULES_UNKNOWN')
  })

  it('passes promtool check rules and promtool test rules, with a firing unit test for every alert', () => {
    const dir = j.tmp()
    writeFileSync(join(dir, 'rules.yml'), raw(['rules']))
    const tested = new Set(UNIT_TESTS.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)))
    for (const a of checkAlerts(RULE_DEFAULTS)) expect(tested.has(a.alert), `a firing unit test for ${a.alert}`).toBe(true)
    writeFileSync(join(dir, 'tests.yml'), stringify({rule_files: ['rules.yml'], evaluation_interval: '1m', tests: UNIT_TESTS}))
    if (!havePromtool) return void console.log('skipped promtool check/test rules: promtool not installed (Debian package prometheus)')
    const check = promtool(['check', 'rules', join(dir, 'rules.yml')])
    expect(check.status, check.out).toBe(0)
    const test = promtool(['test', 'rules', join(dir, 'tests.yml')], undefined, dir)
    expect(test.status, test.out).toBe(0)
  })
})

describe('medic dashboard', () => {
  it('is a Grafana dashboard by the JSON schema of the model, on a 24-column grid, over medic\'s own series, every query valid PromQL', async () => {
    expectContract(await medic(['dashboard']), 'DASHBOARD_OK')
    const d = JSON.parse(raw(['dashboard'])) as {panels: {id: number; gridPos: {x: number; y: number; w: number; h: number}; targets: {expr: string}[]}[]; templating: {list: {name: string; query?: {query: string}}[]}}
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/grafana/dashboard.schema.json'), 'utf8'))
    // ajv is CommonJS with a default export: under NodeNext the class is the module's `default`.
    const Ajv = ((AjvModule as unknown as {default?: typeof AjvModule}).default ?? AjvModule) as unknown as new (o: object) => {compile: (s: object) => ((d: unknown) => boolean) & {errors?: unknown}}
    const validate = new Ajv({allErrors: true, strict: false}).compile(schema)
    expect(validate(d), JSON.stringify(validate.errors, null, 2)).toBe(true)
    // The schema catches a broken one too.
    expect(validate({...d, panels: [{...d.panels[0], gridPos: {x: 20, y: 0, w: 30, h: 1}}]})).toBe(false)
    // Panels inside 24 columns, no two overlapping, ids unique.
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length)
    for (const p of d.panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24)
    for (const [i, a] of d.panels.entries()) for (const b of d.panels.slice(i + 1)) {
      const apart = a.gridPos.x + a.gridPos.w <= b.gridPos.x || b.gridPos.x + b.gridPos.w <= a.gridPos.x || a.gridPos.y + a.gridPos.h <= b.gridPos.y || b.gridPos.y + b.gridPos.h <= a.gridPos.y
      expect(apart, `panels ${a.id} and ${b.id} overlap`).toBe(true)
    }
    const exprs = [...d.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...d.templating.list.flatMap((v) => (typeof v.query === 'object' ? [v.query.query] : []))]
    const names = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(medic_[a-z_]+)\b/g)].map((m) => m[1])))
    for (const n of names) expect(n in FAMILY_HELP, n).toBe(true)
    for (const f of Object.keys(FAMILY_HELP)) expect(names.has(f), `a panel shows ${f}`).toBe(true)
    if (!havePromtool) return void console.log('skipped the PromQL check: promtool not installed')
    // Every query, its Grafana variables filled, as a recording rule: promtool parses each.
    const dir = j.tmp()
    const fill = (e: string) => e.replace(/\$(instance|command|subject)/g, '.*')
    const queries = exprs.filter((e) => !e.startsWith('label_values('))
    writeFileSync(join(dir, 'q.yml'), stringify({groups: [{name: 'q', rules: queries.map((e, i) => ({record: `medic:dashboard_query_${i}`, expr: fill(e)}))}]}))
    const r = promtool(['check', 'rules', join(dir, 'q.yml')])
    expect(r.status, r.out).toBe(0)
  })
})

describe('--perfdata', () => {
  // The monitoring-plugins guidelines' grammar: 'label'=value[UOM];[warn];[crit];[min];[max]
  const NUM = '-?\\d+(?:\\.\\d+)?'
  const RANGE = `@?(?:~|${NUM})?(?::(?:${NUM})?)?`
  const LABEL = "(?:'(?:[^']|'')+'|[^'= ]+)"
  const ITEM = new RegExp(`^${LABEL}=${NUM}(?:s|ms|us|%|B|KB|MB|GB|TB|c)?(?:;(?:${RANGE})?){0,2}(?:;(?:${NUM})?){0,2}$`)

  function parsePerf(line: string): string[] {
    const i = line.indexOf(' | ')
    expect(i, line).toBeGreaterThan(0)
    expect(line.indexOf('|')).toBe(i + 1) // the one pipe: the summary holds none
    const items = line.slice(i + 3).match(/'(?:[^']|'')+'=\S*|\S+/g) ?? []
    for (const it of items) expect(it, line).toMatch(ITEM)
    return items
  }

  it('appends perfdata on line 1 only, in the guidelines\' grammar; --json carries it as a field; off by default', async () => {
    const state = j.tmp()
    const s = await startService(j)
    const h = await medic(['health', '--port', String(s.port), '--manager', 'none', '--state-dir', state, '--perfdata', '--timeout', '20s', '-v'])
    expectContract(h, 'GATEWAY_OK')
    const items = parsePerf(h.lines[0])
    expect(items.map((x) => x.split('=')[0])).toEqual(['duration', 'checks_alert', 'signals', 'probe', 'restarts_1h'])
    expect(items[0]).toMatch(/^duration=\d+(\.\d+)?s;;20;0$/)
    expect(items[3]).toMatch(/^probe=\d+ms;;5000;0$/)
    for (const l of h.lines.slice(1)) expect(l).not.toContain(' | ')
    const c = await medic(['cleanup', '--port', String(await freePort()), '--state-dir', state, '--perfdata'])
    expectContract(c, 'PORT_OK')
    parsePerf(c.lines[0])
    const js = await medic(['cleanup', '--port', String(await freePort()), '--state-dir', state, '--perfdata', '--json'])
    expect(JSON.parse(js.stdout).perfdata).toMatch(/^duration=/)
    const plain = await medic(['cleanup', '--port', String(await freePort()), '--state-dir', state])
    expect(plain.lines[0]).not.toContain('|')
  })
})
