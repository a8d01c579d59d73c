/**
 * What `medic install` writes, as pure text: systemd service/timer units and the gateway's
 * hardening drop-in, cron lines, the wsl.conf `[boot]` command, a Docker HEALTHCHECK.
 * Every byte is decided here (tested without systemd); src/sys writes it, ops wire it.
 */

export const SANE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The first line of every file medic install writes; medic verify and uninstall read the rest from the manifest. */
export const MARK = '# Written by medic install'

/**
 * One word of an ExecStart= line, so systemd hands the program exactly `arg`: bare when
 * plain, else double-quoted with C escapes; `%` (specifiers) and `$` (variable
 * substitution) are doubled either way. A bare `;` would separate commands: quoted.
 */
export function systemdWord(arg: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(arg)) return arg
  const body = arg.replace(/[\\"\n\t%$]/g, (c) => ({'\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '%': '%%', $: '$$'})[c]!)
  return `"${body}"`
}

export function systemdCommand(argv: string[]): string {
  return argv.map(systemdWord).join(' ')
}

/** One word for /bin/sh (cron, wsl.conf boot): bare when plain, else single-quoted. */
export function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** A crontab command: shell words, and `%` (a newline to cron) escaped. */
export function cronCommand(argv: string[]): string {
  return argv.map(shellWord).join(' ').replace(/%/g, '\\%')
}

/** Prometheus rules as medic install writes them: medic's mark, then `medic ollama rules`. */
export function rulesFile(name: string, yaml: string): string {
  return `${header(name, 'Prometheus alerting rules (medic ollama rules)')}${yaml}`
}

/** `gateway` → `gateway.service`; a name with a unit type suffix is kept. */
export function unitFileName(unit: string): string {
  return /\.(service|socket|target|timer|mount|scope|slice|path)$/.test(unit) ? unit : `${unit}.service`
}

/** `600000` → `10min`: systemd's own time-span words, exact. */
export function systemdSpan(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}min`
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** How often cron can run it: a minute count dividing an hour, or an hour count dividing a day. */
export function cronSchedule(everyMs: number): {ok: true; spec: string} | {ok: false; reason: string} {
  const min = everyMs / 60_000
  if (Number.isInteger(min) && min >= 1 && min <= 30 && 60 % min === 0) return {ok: true, spec: min === 1 ? '* * * * *' : `*/${min} * * * *`}
  const h = everyMs / 3_600_000
  if (Number.isInteger(h) && h >= 1 && h <= 24 && 24 % h === 0) return {ok: true, spec: h === 1 ? '0 * * * *' : h === 24 ? '0 0 * * *' : `0 */${h} * * *`}
  return {ok: false, reason: `cron cannot run something every ${systemdSpan(everyMs)}: use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes, or 1, 2, 3, 4, 6, 8, 12 or 24 hours`}
}

export interface UnitText {
  /** `medic-<name>`: the name under medic's control. */
  name: string
  description: string
  /** The full command line, executable first (absolute paths). */
  argv: string[]
  /** Extra environment (TEXTFILE_DIR), besides PATH. */
  env: Record<string, string>
  /** Units this one should start after and want (`ollama.service` for Ollama commands). */
  after: string[]
  user: boolean
}

function header(name: string, what: string): string {
  return `${MARK} (${name}): ${what}.\n# medic verify compares it with what medic install would write now; medic uninstall --name ${name.replace(/^medic-/, '')} removes it.\n`
}

function envLines(env: Record<string, string>): string {
  return Object.entries({PATH: SANE_PATH, ...env}).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}\n`).join('')
}

function unitSection(u: UnitText): string {
  const after = ['network.target', ...u.after]
  return `[Unit]\nDescription=${u.description.replace(/\n/g, ' ')}\nAfter=${after.join(' ')}\n${u.after.length ? `Wants=${u.after.join(' ')}\n` : ''}`
}

/**
 * A long-running medic command as a service: restarted on failure, the whole control group
 * killed on stop (the seed-000 orphan came from KillMode=mixed), a sane PATH.
 */
export function serviceUnit(u: UnitText, restartSecMs = 10_000): string {
  return `${header(u.name, 'a long-running medic command')}${unitSection(u)}
[Service]
Type=simple
ExecStart=${systemdCommand(u.argv)}
Restart=on-failure
RestartSec=${systemdSpan(restartSecMs)}
KillMode=control-group
${envLines(u.env)}
[Install]
WantedBy=${u.user ? 'default.target' : 'multi-user.target'}
`
}

/**
 * A check as a oneshot run by a timer. Exit 1 (RECOVERED, nagios codes) is success for
 * systemd: the unit is `failed` exactly when the last verdict was ALERT or UNKNOWN.
 */
export function oneshotUnit(u: UnitText): string {
  return `${header(u.name, 'a medic check, started by its timer')}${unitSection(u)}
[Service]
Type=oneshot
ExecStart=${systemdCommand(u.argv)}
SuccessExitStatus=1
KillMode=control-group
${envLines(u.env)}`
}

/**
 * The timer of a check. systemd ignores Persistent= on monotonic timers (systemd.timer(5):
 * "only has an effect on timers configured with OnCalendar="); OnBootSec= is what catches up
 * after a reboot or an install (a boot offset already past elapses at once).
 */
export function timerUnit(name: string, everyMs: number, user: boolean): string {
  const accuracy = Math.max(1000, Math.min(60_000, Math.floor(everyMs / 10_000) * 1000))
  return `${header(name, `runs ${name}.service every ${systemdSpan(everyMs)}`)}[Unit]
Description=${name}: every ${systemdSpan(everyMs)}

[Timer]
OnBootSec=${systemdSpan(Math.min(everyMs, 120_000))}
OnUnitActiveSec=${systemdSpan(everyMs)}
AccuracySec=${systemdSpan(accuracy)}

[Install]
WantedBy=timers.target
`
}

/**
 * Seed 000's fix for an existing unit, as a drop-in (the unit file stays the user's): free
 * the port before every start, kill the whole control group on stop, bound the stop, and
 * cap restarts so a loop ends in `failed` (which `medic health` repairs) instead of 388/h.
 */
export function hardeningDropIn(name: string, unit: string, cleanupArgv: string[], stopTimeoutMs = 30_000): string {
  return `${header(name, `the seed-000 hardening of ${unit}`)}[Unit]
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
ExecStartPre=${systemdCommand(cleanupArgv)}
KillMode=control-group
TimeoutStopSec=${systemdSpan(stopTimeoutMs)}
`
}

/** /etc/cron.d/medic-<name>: system crontab format (with the user field). */
export function cronFile(name: string, schedule: string, argv: string[], env: Record<string, string>): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('')
  return `${header(name, 'a medic check run by cron')}SHELL=/bin/sh\nPATH=${SANE_PATH}\n${vars}${schedule} root ${cronCommand(argv)} >/dev/null 2>&1\n`
}

const blockBegin = (name: string) => `# BEGIN ${name} (medic install)`
const blockEnd = (name: string) => `# END ${name} (medic install)`

/** The lines medic owns in a user's crontab, between its markers. */
export function cronBlock(name: string, schedule: string, argv: string[], env: Record<string, string>): string {
  // A crontab's VAR= lines hold for every line after them: the install's name goes on its own
  // line only (a later line running medic must never record as this install).
  const {MEDIC_INSTALL_NAME: own, ...rest} = env
  const vars = Object.entries(rest).map(([k, v]) => `${k}=${v}\n`).join('')
  return `${blockBegin(name)}\n${vars}${schedule} ${own ? `MEDIC_INSTALL_NAME=${own} ` : ''}${cronCommand(argv)} >/dev/null 2>&1\n${blockEnd(name)}\n`
}

/** Where medic's block is in a crontab: [start, end) byte offsets, or null. Refuses duplicates. */
export function findBlock(text: string, name: string): {start: number; end: number} | null | 'ambiguous' {
  const b = blockBegin(name) + '\n'
  const e = blockEnd(name) + '\n'
  const start = text.startsWith(b) ? 0 : text.indexOf('\n' + b) >= 0 ? text.indexOf('\n' + b) + 1 : -1
  if (start < 0) return null
  const endAt = text.indexOf(e, start)
  if (endAt < 0) return 'ambiguous'
  if (text.indexOf('\n' + b, endAt) >= 0) return 'ambiguous'
  return {start, end: endAt + e.length}
}

/** Puts `block` in place of the existing one, or at the end; every other byte is kept. */
export function mergeBlock(text: string, name: string, block: string | null): string | 'ambiguous' {
  const at = findBlock(text, name)
  if (at === 'ambiguous') return 'ambiguous'
  if (at) return text.slice(0, at.start) + (block ?? '') + text.slice(at.end)
  if (block === null) return text
  return text === '' || text.endsWith('\n') ? text + block : `${text}\n${block}`
}

export type WslMerge =
  | {ok: true; text: string; appended: string | null}
  | {ok: false; reason: string}

const SECTION = /^\s*\[([^\]]*)\]\s*$/
const COMMAND = /^\s*command\s*=/

/**
 * /etc/wsl.conf: set `command=` in `[boot]`, keeping every other byte as it was. A
 * `command=` medic did not write (`ours` is the exact line medic wrote before) is refused:
 * WSL runs one boot command, and it is someone's. `appended`: the text added at the end
 * when there was no `[boot]` section (uninstall takes exactly that off again).
 */
export function mergeWslConf(text: string, line: string, ours: string | null): WslMerge {
  const lines = text.split('\n')
  let inBoot = false
  let bootAt = -1
  let commandAt = -1
  for (let i = 0; i < lines.length; i++) {
    const s = SECTION.exec(lines[i])
    if (s) {
      inBoot = s[1].trim().toLowerCase() === 'boot'
      if (inBoot && bootAt < 0) bootAt = i
      continue
    }
    if (inBoot && COMMAND.test(lines[i])) {
      if (commandAt >= 0) return {ok: false, reason: 'wsl.conf has two [boot] command= lines'}
      commandAt = i
    }
  }
  const cr = (i: number) => (lines[i].endsWith('\r') ? '\r' : '')
  if (commandAt >= 0) {
    const current = lines[commandAt].replace(/\r$/, '')
    if (current !== line && current !== ours) return {ok: false, reason: `wsl.conf already has a [boot] command medic did not write: ${current.trim().slice(0, 100)}`}
    lines[commandAt] = line + cr(commandAt)
    return {ok: true, text: lines.join('\n'), appended: null}
  }
  if (bootAt >= 0) {
    lines.splice(bootAt + 1, 0, line + cr(bootAt))
    return {ok: true, text: lines.join('\n'), appended: null}
  }
  const appended = `${text === '' ? '' : text.endsWith('\n') ? '\n' : '\n\n'}[boot]\n${line}\n`
  return {ok: true, text: text + appended, appended}
}

/** Takes medic's `command=` line (exactly `line`) out again — with the section medic appended, if it is still the file's end. */
export function unmergeWslConf(text: string, line: string, appended: string | null): {ok: true; text: string} | {ok: false; reason: string} {
  if (appended && text.endsWith(appended)) return {ok: true, text: text.slice(0, text.length - appended.length)}
  const lines = text.split('\n')
  let section = ''
  const at = lines.findIndex((l) => {
    const s = SECTION.exec(l)
    if (s) section = s[1].trim().toLowerCase()
    return section === 'boot' && COMMAND.test(l) && l.replace(/\r$/, '') === line
  })
  if (at < 0) return {ok: false, reason: 'medic’s [boot] command= line is not in wsl.conf any more (changed by hand?)'}
  lines.splice(at, 1)
  return {ok: true, text: lines.join('\n')}
}

/** The `[boot] command=` line for a command line (run by WSL through /bin/sh). */
export function wslBootLine(argv: string[]): string {
  return `command=${argv.map(shellWord).join(' ')}`
}

/** Docker's HEALTHCHECK, exec form (no shell), with the seed's compose timings by default. */
export function dockerHealthcheck(argv: string[], o: {intervalMs: number; timeoutMs: number; retries: number; startPeriodMs: number}): string {
  const d = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)
  return `HEALTHCHECK --interval=${d(o.intervalMs)} --timeout=${d(o.timeoutMs)} --retries=${o.retries} --start-period=${d(o.startPeriodMs)} CMD ${JSON.stringify(argv)}`
}
