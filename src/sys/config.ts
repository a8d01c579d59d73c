import {existsSync, lstatSync} from 'node:fs'
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import {readTrusted} from './file-gate.js'

/**
 * medic's config file: `--config FILE`, else the first `medic.config.{json,yaml,yml}` or
 * `config.{json,yaml,yml}` in `$XDG_CONFIG_HOME/medic/`, `~/.config/medic/`, `/etc/medic/`
 * (CONFIG_DIRS). Never the working directory: medic run from anywhere (cron, a unit, another
 * shell) reads the same file.
 *
 *   services:
 *     gateway:           # medic health gateway
 *       port: 18789
 *       url: http://127.0.0.1:18789/health
 *       manager: systemd
 *       unit: clawdbot-gateway
 *   protect: ["train\\.py"]
 *
 * A service entry's keys are the command's flag names (kebab-case or camelCase); flags
 * given on the command line win over them.
 *
 * A config file names commands medic runs (`start-cmd`) and what it must not kill
 * (`protect:`), so it is used only when no other user can change it: the file and every
 * directory on its path owned by root or medic's own user, none writable by group or
 * others (a sticky directory such as /tmp excepted), no symlink another user owns
 * (sys/file-gate.ts readTrusted). The first config file found is the one: when it is
 * refused, medic does not fall back to the next place (ConfigError naming it).
 */
export interface MedicConfig {
  path: string
  services: Record<string, Record<string, unknown>>
  protect: string[]
}

export class ConfigError extends Error {}

/** Is anything at this path (a dangling symlink too: it is found, then refused)? */
function there(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** Where the config file is looked for, in order (README "Config file"). */
export function configDirs(env: NodeJS.ProcessEnv = process.env, home = env.HOME || homedir()): string[] {
  // A relative XDG_CONFIG_HOME (or HOME) is invalid (XDG spec): ignored, never read from the working directory.
  const dirs = [env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? join(env.XDG_CONFIG_HOME, 'medic') : '', isAbsolute(home) ? join(home, '.config', 'medic') : '', '/etc/medic']
  return [...new Set(dirs.filter(Boolean))]
}

const NAMES = ['medic.config.json', 'medic.config.yaml', 'medic.config.yml', 'config.json', 'config.yaml', 'config.yml']

/** The config file's path, or null when there is none. Throws ConfigError for one that is missing (--config) or refused. */
export function findConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (explicit) {
    if (!existsSync(explicit)) throw new ConfigError(`config file ${explicit} does not exist`)
    return trusted(resolve(explicit))
  }
  for (const dir of configDirs(env)) for (const n of NAMES) if (there(join(dir, n))) return trusted(join(dir, n))
  return null
}

/** `path` if no other user can change it, else ConfigError naming it and why. */
function trusted(path: string): string {
  configText(path)
  return path
}

/** The text of a config file, read from the fd that was judged (readTrusted). */
function configText(path: string): string {
  try {
    return readTrusted(path)
  } catch (e) {
    throw new ConfigError(`config file ${(e as Error).message}; medic uses only a config file no other user can change`)
  }
}

export async function loadConfig(explicit: string | undefined): Promise<MedicConfig | null> {
  const path = findConfig(explicit)
  if (!path) return null
  const text = configText(path)
  let data: unknown
  try {
    if (/\.ya?ml$/.test(path)) {
      const {parse} = await import('yaml') // only when a YAML config exists
      data = parse(text)
    } else data = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(`cannot parse ${path}: ${(e as Error).message.split('\n')[0]}`)
  }
  const o = (data ?? {}) as {services?: unknown; protect?: unknown}
  if (typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(`${path}: expected a mapping at the top`)
  const services = (o.services ?? {}) as Record<string, Record<string, unknown>>
  if (typeof services !== 'object' || Array.isArray(services)) throw new ConfigError(`${path}: services must be a mapping of name → settings`)
  const protect = Array.isArray(o.protect) ? o.protect.map(String) : []
  return {path, services, protect}
}

export function serviceEntry(cfg: MedicConfig | null, name: string): Record<string, unknown> | null {
  const e = cfg?.services[name]
  if (!e) return null
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) out[k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = v
  return out
}
