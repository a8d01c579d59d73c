import {describe, expect, it} from 'vitest'
import {completeLines, countMatches, parseDockerLogs, parseJournalJson, planFileRead} from '../../src/core/log-match.js'
import {checkFamilies, countVerdict, mergeExposition, newCounters, parseMedicExposition, repairOf} from '../../src/core/metrics-check.js'
import {afterAttempt, alertmanagerAlerts, decideNotify, notifyRequest, notifyUrlProblem, redactUrl, type ChannelRecord, type NotifyEvent} from '../../src/core/notify.js'
import {plainNumber, renderPerfdata, withPerfdata} from '../../src/core/perfdata.js'
import {lintExposition, renderFamilies} from '../../src/core/prom.js'
import {toJson, type Status, type Verdict} from '../../src/core/verdict.js'
import {COMMON_FLAGS} from '../../src/cli/common-flags.js'
import {NOTIFY_FORMATS} from '../../src/core/notify.js'

const v = (status: Status, actions: Verdict['actions'] = []): Verdict => ({subject: 'GATEWAY', status, summary: 'x', checks: [], actions})
const snap = (command: string, subject: string, status: Status, c = newCounters()) => checkFamilies({command, subject, status, at: 1_700_000_000.5, durationS: 0.25, counters: c, problems: ['RESTART_LOOP'], budgetExhausted: false})

describe('check metrics', () => {
  it('labels every series with command and subject, and lints clean', () => {
    const text = renderFamilies(snap('health', 'GATEWAY', 'ALERT'))
    expect(lintExposition(text)).toEqual([])
    expect(text).toMatch(/^medic_check_status\{command="health",subject="GATEWAY"\} 2$/m)
    expect(text).toMatch(/^medic_health_problem\{command="health",subject="GATEWAY",problem="RESTART_LOOP"\} 1$/m)
    expect(text).toMatch(/^medic_health_problem\{command="health",subject="GATEWAY",problem="LOG_PATTERN"\} 0$/m)
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/command="health",subject="GATEWAY"/)
  })

  it('counts repairs by result and signals delivered; a drill never repairs', () => {
    const sig = {action: 'SIGTERM', target: 'pid 1', result: 'sent', ms: 0}
    const start = {action: 'start', target: 'u', result: 'failed: x', ms: 0}
    expect(repairOf('health', v('RECOVERED'))).toBe('recovered')
    expect(repairOf('health', v('ALERT', [start]))).toBe('failed')
    expect(repairOf('health', v('ALERT'))).toBe(null)
    expect(repairOf('drill', v('ALERT', [sig]))).toBe(null)
    let c = countVerdict(newCounters(), 'cleanup', v('RECOVERED', [sig, {...sig, action: 'SIGKILL'}, {...sig, action: 'SIGCONT'}, {...sig, result: 'gone'}]))
    c = countVerdict(c, 'cleanup', v('ALERT', [sig]))
    expect(c.repairs).toEqual({recovered: 1, failed: 1})
    expect(c.kills).toBe(3)
  })

  it('counts supervise restarts once per supervisor run, however many passes', () => {
    let c = newCounters()
    for (const starts of [1, 1, 2, 2, 4]) c = countVerdict(c, 'supervise', v('OK'), {id: 'a', starts})
    expect(c.restarts).toBe(3)
    c = countVerdict(c, 'supervise', v('OK'), {id: 'b', starts: 1}) // a new supervisor: its first start is not a restart
    c = countVerdict(c, 'supervise', v('OK'), {id: 'b', starts: 2})
    expect(c.restarts).toBe(4)
  })

  it('merges into a shared file: replaces only its own series, keeps the others, one HELP/TYPE per family', () => {
    const first = mergeExposition([], snap('health', 'GATEWAY', 'OK'), {command: 'health', subject: 'GATEWAY'})
    const p1 = parseMedicExposition(first)
    if ('foreign' in p1) throw new Error(p1.foreign)
    const second = mergeExposition(p1.samples, snap('cleanup', 'PORT', 'RECOVERED'), {command: 'cleanup', subject: 'PORT'})
    const p2 = parseMedicExposition(second)
    if ('foreign' in p2) throw new Error(p2.foreign)
    const third = mergeExposition(p2.samples, snap('health', 'GATEWAY', 'ALERT'), {command: 'health', subject: 'GATEWAY'})
    expect(lintExposition(third)).toEqual([])
    expect(third).toMatch(/^medic_check_status\{command="health",subject="GATEWAY"\} 2$/m)
    expect(third).toMatch(/^medic_check_status\{command="cleanup",subject="PORT"\} 1$/m)
    expect(third.match(/^# TYPE medic_check_status /gm)).toHaveLength(1)
    expect(third.match(/^medic_check_status/gm)).toHaveLength(2)
  })

  it('calls a file with anything but medic check families foreign', () => {
    expect(parseMedicExposition('# HELP ollama_up x\n# TYPE ollama_up gauge\nollama_up 1\n')).toHaveProperty('foreign')
    expect(parseMedicExposition('garbage\n')).toHaveProperty('foreign')
    expect(parseMedicExposition('')).toEqual({samples: []})
  })
})

describe('notify on change', () => {
  const sequence = (statuses: Status[], limit = 6, sendOk = true, step = 60_000) => {
    let rec: ChannelRecord | undefined
    let prev: Status | null = null
    const sent: string[] = []
    statuses.forEach((s, i) => {
      const now = 1_000_000_000 + i * step
      const d = decideNotify(rec, s, prev, now, limit)
      if (d.send) {
        sent.push(`${d.from ?? '-'}>${s}`)
        rec = afterAttempt(rec, s, now, sendOk, d.believed)
      } else rec = d.record
      prev = s
    })
    return sent
  }

  it('sends exactly one notification per change over OK, OK, ALERT, ALERT, RECOVERED, OK', () => {
    expect(sequence(['OK', 'OK', 'ALERT', 'ALERT', 'RECOVERED', 'OK'])).toEqual(['OK>ALERT', 'ALERT>RECOVERED', 'RECOVERED>OK'])
  })

  it('a first run: silent when OK, told when not', () => {
    expect(sequence(['OK'])).toEqual([])
    expect(sequence(['ALERT'])).toEqual(['->ALERT'])
  })

  it('a first report whose delivery failed is retried as a first report: never from an invented OK', () => {
    expect(sequence(['ALERT', 'ALERT'], 6, false)).toEqual(['->ALERT', '->ALERT'])
    const held = decideNotify(undefined, 'ALERT', null, 1, 0)
    expect(held).toMatchObject({send: false, why: 'rate-limited', record: {told: {status: null}}})
    // A first run that saw OK: the next ALERT is from OK (a run did see it).
    expect(sequence(['OK', 'ALERT'])).toEqual(['OK>ALERT'])
  })

  it('a flapping status is rate limited, and the held change is sent (as it is then) once the hour allows', () => {
    const flap = Array.from({length: 20}, (_, i) => (i % 2 ? 'ALERT' : 'OK') as Status)
    const sent = sequence([...flap, 'ALERT'], 3, true, 60_000)
    expect(sent).toHaveLength(3)
    // The receiver was last told ALERT; it settles OK: once the hour frees an attempt, OK goes out once.
    const sentLater = sequence([...flap, ...Array(45).fill('OK')], 3, true, 60_000)
    expect(sentLater).toEqual(['OK>ALERT', 'ALERT>OK', 'OK>ALERT', 'ALERT>OK'])
  })

  it('a failed delivery is retried by a later run; a flap back to what the receiver believes sends nothing', () => {
    let rec: ChannelRecord | undefined
    const d1 = decideNotify(rec, 'ALERT', 'OK', 1, 6)
    expect(d1.send).toBe(true)
    rec = afterAttempt(rec, 'ALERT', 1, false, 'OK')
    const d2 = decideNotify(rec, 'ALERT', 'ALERT', 2, 6)
    expect(d2).toMatchObject({send: true, from: 'OK'})
    rec = afterAttempt(rec, 'ALERT', 2, true, 'OK')
    expect(decideNotify(rec, 'ALERT', 'OK', 3, 6)).toMatchObject({send: false, why: 'unchanged'})
  })

  const event = (status: Status, previous: Status | null): NotifyEvent => ({
    command: 'health', subject: 'GATEWAY', status, previous, host: 'box', at: '2026-01-01T00:00:00.000Z', held: 0,
    verdict: toJson({subject: 'GATEWAY', status, summary: 'probe refused', checks: [], actions: []}, 'nagios', 12),
  })

  it('alertmanager: firing until resolved, the other severity always resolved', () => {
    const fire = alertmanagerAlerts(event('ALERT', 'OK')) as {labels: Record<string, string>; endsAt: string}[]
    expect(fire[0].labels).toMatchObject({alertname: 'MedicCheck', severity: 'critical', command: 'health', subject: 'GATEWAY', instance: 'box'})
    expect(Date.parse(fire[0].endsAt)).toBeGreaterThan(Date.parse('2026-01-07T00:00:00Z'))
    expect(fire[1]).toMatchObject({labels: {severity: 'warning'}, endsAt: '2026-01-01T00:00:00.000Z'})
    const ok = alertmanagerAlerts(event('RECOVERED', 'ALERT')) as {endsAt: string}[]
    expect(ok.every((a) => a.endsAt === '2026-01-01T00:00:00.000Z')).toBe(true)
  })

  it('bodies for ntfy, slack, telegram and json', () => {
    const ntfy = notifyRequest('ntfy', event('ALERT', 'OK'), 'https://ntfy.example/medic')
    expect(ntfy.body).toBe('GATEWAY_ALERT on box (medic health): probe refused; was OK')
    expect(ntfy.headers).toMatchObject({Title: 'GATEWAY_ALERT on box', Priority: '5'})
    expect(JSON.parse(notifyRequest('slack', event('OK', 'ALERT'), 'https://hooks.example/x').body)).toEqual({text: 'GATEWAY_OK on box (medic health): probe refused; was ALERT'})
    expect(JSON.parse(notifyRequest('telegram', event('OK', 'ALERT'), 'https://api.example/botX/sendMessage?chat_id=-100').body)).toMatchObject({chat_id: -100})
    expect(JSON.parse(notifyRequest('json', event('OK', 'ALERT'), 'http://x/').body)).toMatchObject({token: 'GATEWAY_OK', previousStatus: 'ALERT', command: 'health', host: 'box'})
    expect(notifyUrlProblem('telegram', 'https://api.example/botX/sendMessage')).toMatch(/chat_id/)
    expect(notifyUrlProblem('json', 'file:///etc/passwd')).toMatch(/http/)
    expect(redactUrl('https://api.telegram.org/bot123456:ABCdef/sendMessage?chat_id=5')).toBe('https://api.telegram.org/…/sendMessage?…')
  })

  it('the flag knows every format', () => {
    expect(COMMON_FLAGS['notify-format'].options).toEqual([...NOTIFY_FORMATS])
  })
})

describe('perfdata', () => {
  it('renders the guidelines\' form: no exponent, trailing empty fields dropped, labels quoted when needed', () => {
    expect(plainNumber(1e-7)).toBe('0')
    expect(plainNumber(0.0000123)).toBe('0.000012')
    expect(plainNumber(1e21)).toBe('')
    expect(renderPerfdata([{label: 'duration', value: 0.5, uom: 's', crit: 30, min: 0}, {label: "it's here", value: 3}])).toBe("duration=0.5s;;30;0 'it''s here'=3")
    expect(withPerfdata('GATEWAY_OK: a|b', 'x=1')).toBe('GATEWAY_OK: a/b | x=1')
  })
})

describe('log matches', () => {
  it('follows a file by inode: same file from the offset, truncated from 0, rotated: rest of the old then the new', () => {
    const saved = {dev: 1, ino: 10, offset: 100}
    expect(planFileRead(undefined, {dev: 1, ino: 10, size: 5}, false)).toEqual({baseline: true})
    expect(planFileRead(saved, {dev: 1, ino: 10, size: 150}, false)).toEqual({segments: [{which: 'current', start: 100}], note: null})
    expect(planFileRead(saved, {dev: 1, ino: 10, size: 50}, false)).toMatchObject({segments: [{which: 'current', start: 0}]})
    expect(planFileRead(saved, {dev: 1, ino: 11, size: 50}, true)).toMatchObject({segments: [{which: 'rotated', start: 100}, {which: 'current', start: 0}]})
    expect(planFileRead(saved, {dev: 1, ino: 11, size: 50}, false)).toMatchObject({segments: [{which: 'current', start: 0}]})
  })

  it('counts complete lines only; a line being written waits', () => {
    const {lines, used} = completeLines(Buffer.from('a OAuth token refresh failed\nb ok\nc OAuth tok'))
    expect(used).toBe('a OAuth token refresh failed\nb ok\n'.length)
    expect(countMatches(lines, /OAuth token refresh failed/g)).toEqual({count: 1, sample: 'a OAuth token refresh failed'})
  })

  it('reads journal JSON (string and byte-array messages) and docker timestamps', () => {
    const j = parseJournalJson('{"__CURSOR":"c1","MESSAGE":"hello"}\n{"__CURSOR":"c2","MESSAGE":[79,65,117,116,104]}\n')
    expect(j).toEqual({messages: ['hello', 'OAuth'], cursor: 'c2'})
    const d = parseDockerLogs('2026-01-01T00:00:01.500000000Z old\n2026-01-01T00:00:02.250000000Z new line\n', Date.parse('2026-01-01T00:00:01.5Z') / 1000)
    expect(d.messages).toEqual(['new line'])
    expect(d.last).toBeCloseTo(Date.parse('2026-01-01T00:00:02.25Z') / 1000, 3)
  })
})
