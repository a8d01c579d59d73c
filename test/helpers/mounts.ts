import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {ROOT, type MedicResult} from './procs.js'

/**
 * Full and read-only state dirs, for real: a tmpfs filled to ENOSPC or a read-only bind
 * mount, made in a private mount namespace (`unshare -m`) so that nothing outlives the
 * run, whatever happens to the test. Needs root and mount namespaces.
 */
export const mountSkip: string | null = (() => {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs or a read-only bind'
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'])
  return r.status === 0 ? null : `no private mount namespace here (unshare: ${String(r.stderr ?? r.error).trim() || r.status})`
})()

export interface Mount {
  /** `full`: a tmpfs filled to ENOSPC; `ro`: the directory bind-mounted read-only. */
  kind: 'full' | 'ro'
  dir: string
  /** Files written first (relative path → text): what the state dir held before. */
  files?: Record<string, string>
}

export interface MountedRun extends MedicResult {
  /** Every file under the mounted directories afterwards (relative path → size, mode). */
  files: Record<string, {size: number; mode: number}>
}

/** Runs medic once with the mounts in place. */
export function medicMounted(mounts: Mount[], argv: string[], opts: {env?: NodeJS.ProcessEnv; umask?: number} = {}): Promise<MountedRun> {
  return new Promise((resolve, reject) => {
    const c = spawn('unshare', ['-m', '--propagation', 'private', process.execPath, join(ROOT, 'test/fixtures/fs/mount-ns.mjs'), JSON.stringify({mounts, argv, env: opts.env ?? {}, umask: opts.umask})], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    c.stdout.on('data', (d) => (out += d))
    c.stderr.on('data', (d) => (err += d))
    c.on('error', reject)
    c.on('close', (code) => {
      try {
        const r = JSON.parse(out) as {code: number; stdout: string; stderr: string; files: MountedRun['files']}
        resolve({...r, lines: r.stdout.split('\n').filter((l) => l !== '')})
      } catch {
        reject(new Error(`mount-ns helper failed (${code}): ${err}`))
      }
    })
  })
}
