import {spawn, spawnSync} from 'node:child_process'
import {get} from 'node:http'
import {freePort, until, type Janitor} from './procs.js'

/** Debian's binaries (prometheus, prometheus-node-exporter, prometheus-alertmanager), or why a test skips. */
export const PROMTOOL = 'promtool'
export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter'
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager'

export function have(bin: string): boolean {
  return !spawnSync(bin, ['--version'], {encoding: 'utf8'}).error
}

export function promtool(args: string[], input?: string, cwd?: string): {status: number | null; out: string} {
  const r = spawnSync(PROMTOOL, args, {input, encoding: 'utf8', cwd})
  return {status: r.status, out: `${r.stdout}${r.stderr}`}
}

export function httpGet(url: string): Promise<{status: number; text: string}> {
  return new Promise((resolve, reject) => {
    const req = get(url, {agent: false}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, text}))
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
  })
}

/**
 * A real node_exporter on a loopback port with only the textfile collector over `dir`,
 * in its own process group (the Janitor kills it). Ready when /metrics answers.
 */
export async function startNodeExporter(j: Janitor, dir: string): Promise<{url: string; logs: () => string}> {
  const port = await freePort()
  const c = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${dir}`], {stdio: ['ignore', 'ignore', 'pipe'], detached: true})
  j.child(c)
  let logs = ''
  c.stderr!.on('data', (d) => (logs += d))
  const url = `http://127.0.0.1:${port}/metrics`
  await until('node_exporter answers', async () => {
    try {
      return (await httpGet(url)).status === 200
    } catch {
      return false
    }
  })
  return {url, logs: () => logs}
}

/** The value of one series in an exposition (exact labels text), or null. */
export function sample(text: string, series: string): number | null {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  return null
}
