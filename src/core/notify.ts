/**
 * Notifications on a change of status (`--notify CMD`, `--notify-url URL`): when to send
 * (a step function of `now` over a small record) and what to send (the bodies of each
 * `--notify-format`). Pure.
 *
 * When: a channel is told when the status differs from what that channel was last told —
 * the first time, from what the previous run said (the runner's last-verdict record,
 * `<state-dir>/last/…`). So a change is sent once; a change held back by the rate limit,
 * or whose delivery failed, is sent by a later run (the state then, never a stale one);
 * a status that flapped back to what the channel already believes sends nothing.
 */
import type {Status, VerdictJson} from './verdict.js'

export const NOTIFY_FORMATS = ['json', 'alertmanager', 'ntfy', 'slack', 'telegram'] as const
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number]

export type Channel = 'command' | 'url'

const HOUR = 3_600_000

export interface ChannelRecord {
  /**
   * What this channel was last told (a delivery that succeeded), and when (wall ms); at 0,
   * what it is taken to believe without having been told (the status a run saw before it
   * was ever told anything; null: no status was ever seen — the first report).
   */
  told: {status: Status | null; at: number} | null
  /** Wall ms of the attempts in the last hour: the rate limit. */
  attempts: number[]
  /** Changes held back by the rate limit since the last delivery. */
  held: number
}

/** `<state-dir>/notify/<command>.<SUBJECT>.json`. */
export interface NotifyRecord {
  version: 1
  channels: Partial<Record<Channel, ChannelRecord>>
}

export function readNotifyRecord(x: unknown): NotifyRecord {
  const r = x as NotifyRecord | null
  if (!r || r.version !== 1 || typeof r.channels !== 'object' || r.channels === null) return {version: 1, channels: {}}
  return r
}

export type NotifyDecision =
  | {send: true; from: Status | null; believed: Status | null; held: number}
  | {send: false; why: 'unchanged' | 'rate-limited'; record: ChannelRecord; newlyHeld: boolean}

/**
 * Whether `channel` must be told `current`. `previousRun` is the status of the run before
 * (null: none recorded); `limit` is the attempts allowed per hour.
 */
export function decideNotify(rec: ChannelRecord | undefined, current: Status, previousRun: Status | null, now: number, limit: number): NotifyDecision {
  const ch: ChannelRecord = rec ?? {told: null, attempts: [], held: 0}
  const attempts = ch.attempts.filter((t) => t > now - HOUR && t <= now)
  // Nothing told yet: the previous run's status is what everyone last saw; null: no run
  // before, no previous status (said so: never an invented OK), though nothing was wrong to
  // anyone's knowledge, so a first OK is not news.
  const believed: Status | null = ch.told ? ch.told.status : previousRun
  if ((believed ?? 'OK') === current) {
    // From here on the channel's own record says what it believes, whatever later runs see.
    return {send: false, why: 'unchanged', record: {...ch, told: ch.told ?? {status: current, at: 0}, attempts}, newlyHeld: false}
  }
  if (attempts.length >= limit) {
    const newlyHeld = previousRun !== current
    return {send: false, why: 'rate-limited', record: {told: ch.told ?? {status: believed, at: 0}, attempts, held: ch.held + (newlyHeld ? 1 : 0)}, newlyHeld}
  }
  return {send: true, from: believed, believed, held: ch.held}
}

/** A previous status in words, for a log line or a message: `OK`, or that there was none. */
export function previousText(s: Status | null): string {
  return s ?? '(no previous status)'
}

/** The channel's record after an attempt; `believed` is what it believed before (decideNotify's). */
export function afterAttempt(rec: ChannelRecord | undefined, current: Status, now: number, delivered: boolean, believed: Status | null): ChannelRecord {
  const ch: ChannelRecord = rec ?? {told: null, attempts: [], held: 0}
  const attempts = [...ch.attempts.filter((t) => t > now - HOUR && t <= now), now]
  return delivered ? {told: {status: current, at: now}, attempts, held: 0} : {...ch, told: ch.told ?? {status: believed, at: 0}, attempts}
}

// ---------------------------------------------------------------------------------------
// Bodies.

export interface NotifyEvent {
  command: string
  subject: string
  status: Status
  /** What the receiver was told before (or the previous run's status); null: nothing before. */
  previous: Status | null
  host: string
  /** ISO-8601 wall time of the verdict. */
  at: string
  /** Changes held back by the rate limit since the last delivery. */
  held: number
  verdict: VerdictJson
}

export interface NotifyRequest {
  contentType: string
  body: string
  headers?: Record<string, string>
}

const firing = (s: Status) => s === 'ALERT' || s === 'UNKNOWN'

/** One line a person reads: `GATEWAY_ALERT on wsl-box (medic health): <summary>; was OK` (`; first report: no previous status`). */
export function notifyText(e: NotifyEvent): string {
  const held = e.held > 0 ? `; ${e.held} earlier change${e.held === 1 ? '' : 's'} not sent (rate limit)` : ''
  return `${e.verdict.token} on ${e.host} (medic ${e.command}): ${e.verdict.summary}; ${e.previous ? `was ${e.previous}` : 'first report: no previous status'}${held}`
}

/** Days a firing Alertmanager alert stays firing without another word from medic (it only speaks on a change). */
export const ALERTMANAGER_HOLD_DAYS = 7

/**
 * The Alertmanager API v2 body (`POST /api/v2/alerts`, an array): the check's alert, its
 * severity by status (ALERT critical, UNKNOWN warning), firing until medic says otherwise;
 * OK and RECOVERED resolve it (endsAt = now). The identity of the other severity is always
 * resolved with it, so ALERT → UNKNOWN never leaves a stale critical alert firing.
 */
export function alertmanagerAlerts(e: NotifyEvent): unknown[] {
  const at = new Date(e.at)
  const base = {alertname: 'MedicCheck', command: e.command, subject: e.subject, instance: e.host}
  const annotations = {summary: `${e.verdict.token}: ${e.verdict.summary}`, description: notifyText(e), status: e.status}
  const resolved = (severity: string) => ({labels: {...base, severity}, annotations, startsAt: at.toISOString(), endsAt: at.toISOString()})
  if (!firing(e.status)) return [resolved('critical'), resolved('warning')]
  const severity = e.status === 'ALERT' ? 'critical' : 'warning'
  const ends = new Date(at.getTime() + ALERTMANAGER_HOLD_DAYS * 24 * HOUR)
  return [
    {labels: {...base, severity}, annotations, startsAt: at.toISOString(), endsAt: ends.toISOString()},
    resolved(severity === 'critical' ? 'warning' : 'critical'),
  ]
}

const NTFY: Record<Status, {priority: string; tags: string}> = {
  OK: {priority: '3', tags: 'white_check_mark'},
  RECOVERED: {priority: '3', tags: 'wrench,white_check_mark'},
  ALERT: {priority: '5', tags: 'rotating_light'},
  UNKNOWN: {priority: '4', tags: 'question'},
}

/** HTTP header values: printable ASCII only. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)

export function notifyRequest(format: NotifyFormat, e: NotifyEvent, url: string): NotifyRequest {
  const json = (body: unknown): NotifyRequest => ({contentType: 'application/json', body: JSON.stringify(body)})
  switch (format) {
    case 'json':
      return json({...e.verdict, command: e.command, host: e.host, at: e.at, previousStatus: e.previous, heldChanges: e.held})
    case 'alertmanager':
      return json(alertmanagerAlerts(e))
    case 'ntfy':
      // ntfy's publish API: the message is the body, the rest are headers (docs.ntfy.sh/publish).
      return {contentType: 'text/plain; charset=utf-8', body: notifyText(e), headers: {Title: headerSafe(`${e.verdict.token} on ${e.host}`), Priority: NTFY[e.status].priority, Tags: NTFY[e.status].tags}}
    case 'slack':
      return json({text: notifyText(e)})
    case 'telegram': {
      // Bot API sendMessage: the chat comes from the URL (`…/sendMessage?chat_id=N`).
      const chat = new URL(url).searchParams.get('chat_id')
      return json({chat_id: chat && /^-?\d+$/.test(chat) ? Number(chat) : chat, text: notifyText(e), disable_web_page_preview: true})
    }
  }
}

/** Why a URL cannot take this format, or null. */
export function notifyUrlProblem(format: NotifyFormat, url: string): string | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return 'not a URL'
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'only http and https'
  if (format === 'telegram' && !u.searchParams.get('chat_id')) return 'telegram needs ?chat_id=<chat> in the URL (…/bot<token>/sendMessage?chat_id=<chat>)'
  return null
}

/** A URL fit for a log line: its origin and path shape, never a token (a Telegram bot, a Slack hook). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    const path = u.pathname.split('/').map((p) => (p.length > 12 || /\d{5,}|:/.test(p) ? '…' : p)).join('/')
    return `${u.protocol}//${u.host}${path}${u.search ? '?…' : ''}`
  } catch {
    return 'the URL'
  }
}
