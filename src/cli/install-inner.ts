import {parseDuration} from '../core/duration.js'
import type {InnerCommand} from '../core/units-plan.js'
import {messageOf, parseCommandArgv, UsageError} from './parse.js'
import {COMMANDS} from './registry.js'
import {subjectOf} from './runner.js'

/**
 * The medic command line given to `medic install -- …` (or read back from a manifest by
 * verify), parsed against that command's own declaration: a bad flag there is a usage
 * error of the install. Parsed without the caller's environment: the unit or cron job will
 * not have it either.
 */
export async function parseInner(words: string[]): Promise<InnerCommand> {
  const w = words[0] === 'medic' ? words.slice(1) : words
  if (w.length === 0) throw new UsageError('after --: a medic command line is needed (e.g. -- health --port 18789)')
  const id = [w.slice(0, 2).join(' '), w[0]].find((c) => c in COMMANDS)
  if (!id) throw new UsageError(`after --: "${w[0]}" is not a medic command`)
  const spec = await COMMANDS[id]()
  const args = w.slice(id.split(' ').length)
  let parsed
  try {
    parsed = parseCommandArgv(spec, args, {})
  } catch (e) {
    throw new UsageError(`after --: medic ${id}: ${messageOf(e)}`)
  }
  const f = parsed.flags
  const given = (k: string) => parsed.given.has(k)
  const str = (k: string) => {
    const v = f[k]
    return given(k) && typeof v === 'string' ? v : undefined
  }
  // The seed's daemon forms loop like --watch: `ollama frozen-check 180 15 3 60` (its
  // positionals are numbers, not a name) and `ollama metrics --daemon [N]`.
  const seedLoop = id === 'ollama frozen-check' && parsed.positionals.length > 0
  if (seedLoop) Object.assign(f, {watch: true, ...(parsed.positionals[1] ? {interval: parseDuration(parsed.positionals[1]) ?? f.interval} : {})})
  if (id === 'ollama metrics' && f.daemon === true) f.watch = parseDuration(parsed.positionals[0] ?? '15') ?? 15_000
  const name = id.startsWith('ollama ') ? undefined : parsed.positionals[0] ?? (typeof f.name === 'string' ? f.name : undefined)
  return {
    id, args, subject: subjectOf(spec, parsed),
    flags: {
      ...(name !== undefined ? {name} : {}),
      ...(typeof f.port === 'number' ? {port: f.port} : {}),
      ...(f.once === true ? {once: true} : {}),
      ...(f.watch === true || typeof f.watch === 'number' ? {watch: f.watch} : {}),
      ...(typeof f.interval === 'number' ? {interval: f.interval} : {}),
      ...(typeof f['startup-delay'] === 'number' ? {startupDelay: f['startup-delay']} : {}),
      ...(str('file') ? {file: str('file')} : {}),
      ...(str('metrics-file') ? {metricsFile: str('metrics-file')} : {}),
      ...(str('state-dir') ? {stateDir: str('state-dir')} : {}),
      ...(str('log-file') ? {logFile: str('log-file')} : {}),
      ...(str('exit-codes') ? {exitCodes: str('exit-codes')} : {}),
    },
  }
}
