import {existsSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {findConfig, loadConfig} from './config.js'
import {writeFileAtomic} from './state-store.js'

/**
 * `protect:` patterns of the config file, for the signal gate. A config file that exists
 * but cannot be read, parsed or compiled is an error, never "no patterns": the gate then
 * refuses every signal but a job's own (fail closed).
 */
export async function configProtect(explicit?: string): Promise<{patterns: RegExp[]; error: string | null}> {
  try {
    const cfg = await loadConfig(explicit)
    return {patterns: (cfg?.protect ?? []).map((p) => new RegExp(p)), error: null}
  } catch (e) {
    return {patterns: [], error: `config file: ${(e as Error).message}`}
  }
}

/**
 * Adds or removes a `protect:` pattern in the config file `path` (`protect … --config`),
 * keeping the rest of it (YAML comments too), written atomically; made when missing.
 */
export async function editProtect(file: string, pattern: string, add: boolean): Promise<{path: string; changed: boolean; patterns: string[]}> {
  // One that exists is judged like any config (findConfig: a file another user can change is refused, never edited).
  const path = existsSync(file) ? findConfig(file)! : resolve(file)
  let text = ''
  try {
    text = readFileSync(path, 'utf8')
  } catch {}
  if (/\.ya?ml$/.test(path)) {
    const {parseDocument} = await import('yaml')
    const doc = parseDocument(text || '{}')
    const list = ((doc.get('protect') as {toJSON?: () => unknown} | undefined)?.toJSON?.() as string[] | undefined) ?? []
    const next = add ? [...new Set([...list, pattern])] : list.filter((p) => p !== pattern)
    doc.set('protect', next)
    writeFileAtomic(path, String(doc))
    return {path, changed: next.length !== list.length, patterns: next}
  }
  const o = text ? (JSON.parse(text) as {protect?: string[]}) : {}
  const list = o.protect ?? []
  const next = add ? [...new Set([...list, pattern])] : list.filter((p) => p !== pattern)
  writeFileAtomic(path, JSON.stringify({...o, protect: next}, null, 2) + '\n')
  return {path, changed: next.length !== list.length, patterns: next}
}
