import {describe, expect, it} from 'vitest'
import {defang, EXIT_CODES, exitCodeFor, oneLine, STATUSES, SUMMARY_MAX, STATUS_MEANING, toJson, toSubject, toText, usageVerdict, worstOf, type Verdict} from '../../src/core/verdict.js'

const v = (over: Partial<Verdict> = {}): Verdict => ({subject: 'PORT', status: 'OK', summary: 'fine', checks: [], actions: [], ...over})

describe('verdict contract', () => {
  it('maps every status to the nagios and binary codes of the contract table', () => {
    expect(EXIT_CODES.nagios).toEqual({OK: 0, RECOVERED: 1, ALERT: 2, UNKNOWN: 3})
    expect(EXIT_CODES.binary).toEqual({OK: 0, RECOVERED: 0, ALERT: 1, UNKNOWN: 1})
    for (const s of STATUSES) expect(STATUS_MEANING[s].length).toBeGreaterThan(10)
  })

  it('exits 3 for usage errors in both modes', () => {
    const u = usageVerdict('PORT', 'bad flag')
    expect(exitCodeFor(u, 'nagios')).toBe(3)
    expect(exitCodeFor(u, 'binary')).toBe(3)
    expect(exitCodeFor(v({status: 'UNKNOWN'}), 'binary')).toBe(1)
  })

  it('ranks ALERT over UNKNOWN over RECOVERED over OK', () => {
    expect(worstOf([])).toBe('OK')
    expect(worstOf(['OK', 'RECOVERED'])).toBe('RECOVERED')
    expect(worstOf(['RECOVERED', 'UNKNOWN', 'OK'])).toBe('UNKNOWN')
    expect(worstOf(['UNKNOWN', 'ALERT'])).toBe('ALERT')
  })

  it('derives subjects from names', () => {
    expect(toSubject('whatsapp')).toBe('WHATSAPP')
    expect(toSubject('my-gw.2')).toBe('MY_GW_2')
    expect(toSubject('---')).toBe('MEDIC')
  })

  it('defangs anything that looks like a token, and only that', () => {
    expect(defang('proc GATEWAY_ALERT and x_OK and PORT_RECOVERED')).toBe('proc GATEWAY-ALERT and x-OK and PORT-RECOVERED')
    expect(defang('MY_OKAY stays, _ALERT alone stays')).toBe('MY_OKAY stays, _ALERT alone stays')
  })

  it('keeps the summary on one line, whole: no cut at ~120 characters, only a runaway one is capped', () => {
    expect(oneLine('a\nb')).toBe('a; b')
    const cause = 'GATEWAY_ALERT-free cause: port 18789 held by orphan pid 4242 (node /usr/lib/node_modules/openclaw/dist/entry.js gateway --port 18789); freed; restarted and verified in 2.1s'
    expect(oneLine(cause)).toBe(defang(cause))
    expect(toText(v({summary: cause}), 0)).toBe(`PORT_OK: ${defang(cause)}\n`)
    const runaway = oneLine('x'.repeat(50_000))
    expect(runaway.length).toBe(SUMMARY_MAX)
    expect(runaway.endsWith('…')).toBe(true)
  })

  it('prints the token only on line 1, even when details carry token-like text', () => {
    const text = toText(v({status: 'RECOVERED', summary: 'freed GATEWAY_ALERT-named proc', details: ['cmd: run GATEWAY_ALERT\nsecond'], checks: [{name: 'c', status: 'ALERT', detail: 'WHATSAPP_ALERT'}]}), 1)
    const lines = text.trimEnd().split('\n')
    expect(lines[0]).toBe('PORT_RECOVERED: freed GATEWAY-ALERT-named proc')
    for (const l of lines.slice(1)) expect(l).not.toMatch(/[A-Z0-9]_(OK|RECOVERED|ALERT|UNKNOWN)\b/)
    expect(lines).toHaveLength(3)
  })

  it('renders JSON with the contract fields first and extras that cannot override them', () => {
    const j = toJson(v({status: 'ALERT', extra: {ports: [1], token: 'FAKE_OK'}}), 'binary', 12.4)
    expect(Object.keys(j).slice(0, 8)).toEqual(['token', 'status', 'exitCode', 'subject', 'summary', 'checks', 'actions', 'durationMs'])
    expect(j).toMatchObject({token: 'PORT_ALERT', exitCode: 1, durationMs: 12, ports: [1]})
  })
})
