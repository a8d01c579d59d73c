/**
 * What `--ssh` may name, checked before anything runs: `[user@]host` or
 * `ssh://[user@]host[:port]`. Nothing that ssh could read as an option (a leading `-`, as in
 * `-oProxyCommand=…`), no whitespace, no shell characters. And the remote words medic sends:
 * ssh hands its command line to the remote user's shell as ONE string, so every word of it
 * must be free of anything a shell interprets — the unit is validated to that alphabet
 * (no backslash: systemd's `\x2d` escapes would be unescaped by the remote shell).
 */

const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$/
const SAFE_WORD = /^[A-Za-z0-9@._:+=/-]+$/

export type SshTarget = {ok: true; destination: string; user: string | null; host: string; port: number | null} | {ok: false; why: string}

export function parseSshTarget(text: string): SshTarget {
  const bad = (why: string): SshTarget => ({ok: false, why: `--ssh ${JSON.stringify(text)}: ${why}`})
  if (text.startsWith('-')) return bad('must not start with "-" (ssh would read it as an option)')
  const url = /^ssh:\/\/(?:([^@/]*)@)?(\[[^\]]*\]|[^:/]*)(?::(\d{1,5}))?\/?$/.exec(text)
  let user: string | null
  let host: string
  let port: number | null = null
  if (url) {
    user = url[1] ?? null
    host = url[2]
    if (url[3] !== undefined) {
      port = Number(url[3])
      if (port < 1 || port > 65535) return bad('port must be 1 to 65535')
    }
  } else {
    if (text.includes('://')) return bad('expected user@host or ssh://user@host:port')
    const at = text.lastIndexOf('@')
    user = at >= 0 ? text.slice(0, at) : null
    host = at >= 0 ? text.slice(at + 1) : text
  }
  if (user !== null && !USER.test(user)) return bad('not a user name')
  if (!HOST.test(host) || host.startsWith('-')) return bad('not a host name or address')
  return {ok: true, destination: text, user, host, port}
}

/** A word that goes into the remote command line: nothing a shell would interpret, no option. */
export function safeRemoteWord(word: string): boolean {
  return SAFE_WORD.test(word) && !word.startsWith('-')
}
