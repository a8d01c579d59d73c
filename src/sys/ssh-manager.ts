import {safeRemoteWord} from '../core/ssh-target.js'
import {describeExec, run} from './exec.js'
import type {ServiceManager, StepResult} from './managers.js'

export interface SshManagerOptions {
  /** Validated by parseSshTarget. */
  destination: string
  /** Validated by safeRemoteWord. */
  unit: string
  sudo: boolean
  configFile?: string
  identityFile?: string
  cmdTimeoutMs: number
}

/**
 * `--manager ssh`: the seed restarted a remote Ollama with `ssh homelab@… "sudo systemctl
 * restart $OLLAMA_SERVICE"` — no BatchMode, no timeout, the service name inside a remote
 * shell string. Here: BatchMode=yes (a missing key fails at once instead of prompting),
 * ConnectTimeout, -n (no stdin), -T (no tty), `--` before the destination, and a remote
 * command of fixed words plus the unit, which the caller validated to an alphabet no shell
 * interprets (ssh always hands the remote shell one string; this keeps it inert).
 * The remote host's processes are not medic's to see or signal: stop is the restart's.
 */
export function sshManager(o: SshManagerOptions): ServiceManager {
  if (!safeRemoteWord(o.unit)) throw new Error(`unit ${JSON.stringify(o.unit)} is not safe to send over ssh`)
  const connectS = Math.max(1, Math.ceil(o.cmdTimeoutMs / 1000))
  const ssh = (words: string[]) => [
    'ssh', '-n', '-T', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${connectS}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2',
    ...(o.configFile ? ['-F', o.configFile] : []), ...(o.identityFile ? ['-i', o.identityFile] : []),
    '--', o.destination, ...(o.sudo ? ['sudo', '-n'] : []), ...words,
  ]
  const step = async (words: string[], timeoutMs: number): Promise<StepResult> => {
    const r = await run(ssh(words), {timeoutMs})
    return {ok: !r.missing && !r.timedOut && r.code === 0, detail: `ssh ${o.destination} ${words.join(' ')}: ${describeExec(r)}`}
  }
  return {
    kind: 'ssh',
    label: `ssh ${o.destination} systemctl restart ${o.unit}`,
    async status() {
      const r = await run(ssh(['systemctl', 'is-active', o.unit]), {timeoutMs: o.cmdTimeoutMs * 2})
      if (r.missing) return {available: false, reason: 'ssh not found on PATH'}
      if (r.timedOut || r.code === 255) return {available: false, reason: `ssh ${o.destination}: ${describeExec(r)}`}
      const word = r.stdout.trim().split('\n')[0] || 'unknown'
      const state = (['active', 'activating', 'deactivating', 'inactive', 'failed'] as const).find((s) => s === word) ?? 'unknown'
      return {available: true, view: {state, raw: `${word} (remote, over ssh)`, mainPid: null, restarts: []}}
    },
    servicePids: () => null,
    stop: async () => null,
    start: () => step(['systemctl', 'restart', o.unit], o.cmdTimeoutMs * 3),
  }
}
