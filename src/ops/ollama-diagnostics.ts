import {join} from 'node:path'
import {utcStamp} from '../core/housekeeping.js'
import {run} from '../sys/exec.js'
import type {ServiceManager} from '../sys/managers.js'
import type {NvidiaResult} from '../sys/nvidia-smi.js'
import {readProcText} from '../sys/proc-files.js'
import {writeFileAtomic} from '../sys/state-store.js'

/**
 * Before medic acts on a freeze, what a human will want afterwards (research §5.5): the
 * /api/ps answer, nvidia-smi, the server's and runners' /proc status and kernel stack, and
 * the last 200 log lines. Best effort: a file that cannot be written never stops the repair.
 */
export async function captureDiagnostics(o: {path: (stamp: string) => string; at: Date; psText: string; nvidia: NvidiaResult | null; pids: number[]; manager: ServiceManager; unit: string; container: string}): Promise<string> {
  const dir = o.path(utcStamp(o.at))
  const put = (name: string, text: string) => {
    try {
      writeFileAtomic(join(dir, name), text)
    } catch {}
  }
  put('ps.json', o.psText)
  put('nvidia-smi.txt', o.nvidia ? (o.nvidia.kind === 'ok' ? o.nvidia.raw : JSON.stringify(o.nvidia)) : 'not queried')
  for (const pid of o.pids) put(`pid-${pid}-status.txt`, [readProcText(pid, 'status'), readProcText(pid, 'stack')].join('\n'))
  if (o.manager.kind === 'docker' || o.manager.kind === 'systemd') {
    const logs = o.manager.kind === 'docker'
      ? await run(['docker', 'logs', '--tail', '200', o.container], {timeoutMs: 10_000})
      : await run(['journalctl', '-u', o.unit, '--no-pager', '-n', '200'], {timeoutMs: 10_000})
    put('log.txt', logs.missing ? 'no log source' : logs.stdout + logs.stderr)
  }
  return dir
}
