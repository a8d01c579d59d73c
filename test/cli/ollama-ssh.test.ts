import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {fakeOllama, monitorMetrics, runCheck as run, sample, type Fake} from '../helpers/ollama.js'
import {alive, expectContract, freePort, Janitor, medic, until} from '../helpers/procs.js'

// `--manager ssh` against a real sshd on the loopback, started here: a throwaway host key,
// an authorized key whose forced command records what medic asked for and then does the
// restart (as a locked-down monitor key would), `sshd -D -f <tmp config>` on a free port.

const j = new Janitor()
afterEach(() => j.cleanup())

const SSHD = '/usr/sbin/sshd'
const why = !existsSync(SSHD) ? `${SSHD} not installed (Debian package openssh-server)`
  : spawnSync('ssh', ['-V']).error ? 'ssh client not installed'
    : process.getuid?.() !== 0 ? 'sshd needs root here (privilege separation, host key, login as root)'
      : null
if (why) console.log(`skipped the ssh manager tests: ${why}`)

interface Sshd {
  port: number
  config: string
  badConfig: string
  commands: () => string[]
}

async function startSshd(o: Fake): Promise<Sshd> {
  const dir = j.tmp()
  const f = (n: string) => join(dir, n)
  for (const k of ['host_key', 'client_key', 'other_key']) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', k, '-f', f(k)])
    expect(r.status).toBe(0)
  }
  // The forced command: record SSH_ORIGINAL_COMMAND; for exactly the restart medic should
  // send, kill the (stopped) fake server's group and launch a new one on the same port.
  writeFileSync(f('forced.cjs'), `#!${process.execPath}
const fs = require('fs'), {execFileSync} = require('child_process')
const cmd = process.env.SSH_ORIGINAL_COMMAND ?? ''
fs.appendFileSync(${JSON.stringify(f('commands'))}, cmd + '\\n')
if (cmd !== 'sudo -n systemctl restart ollama') process.exit(1)
try { process.kill(-${o.pid}, 'SIGKILL') } catch {}
const t = Date.now(); while (Date.now() - t < 5000) { try { process.kill(${o.pid}, 0) } catch { break } }
execFileSync(process.execPath, ${JSON.stringify(o.startCmd().split(' ').slice(1))}, {stdio: 'ignore'})
`)
  chmodSync(f('forced.cjs'), 0o755)
  writeFileSync(f('authorized_keys'), `command="${f('forced.cjs')}",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding ${readFileSync(f('client_key.pub'), 'utf8')}`, {mode: 0o600})
  const port = await freePort()
  writeFileSync(f('sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${f('host_key')}`, `AuthorizedKeysFile ${f('authorized_keys')}`, `PidFile ${f('sshd.pid')}`,
    'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'LogLevel INFO', '',
  ].join('\n'))
  writeFileSync(f('known_hosts'), `[127.0.0.1]:${port} ${readFileSync(f('host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`)
  const client = (key: string) => ['Host *', `  IdentityFile ${f(key)}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${f('known_hosts')}`, '  StrictHostKeyChecking yes', ''].join('\n')
  writeFileSync(f('ssh_config'), client('client_key'))
  writeFileSync(f('bad_ssh_config'), client('other_key'))
  mkdirSync('/run/sshd', {recursive: true, mode: 0o755}) // sshd's privilege separation directory (Debian's unit creates it)
  const d = spawn(SSHD, ['-D', '-e', '-f', f('sshd_config')], {stdio: ['ignore', 'ignore', 'pipe'], detached: true})
  j.child(d)
  let log = ''
  d.stderr!.on('data', (x) => (log += x))
  await until('sshd listening', () => log.includes(`Server listening on 127.0.0.1 port ${port}`) || (d.exitCode !== null && Promise.reject(new Error(`sshd exited: ${log}`))), 10_000)
  return {port, config: f('ssh_config'), badConfig: f('bad_ssh_config'), commands: () => (existsSync(f('commands')) ? readFileSync(f('commands'), 'utf8').trim().split('\n') : [])}
}

describe.skipIf(why !== null)('frozen-check --manager ssh, against a real sshd', () => {
  it('a stopped Ollama: never signalled locally, restarted over ssh with exactly one validated command, RECOVERED', async () => {
    const o = await fakeOllama(j, 'healthy')
    const s = await startSshd(o)
    const args = ['--manager', 'ssh', '--ssh', `ssh://root@127.0.0.1:${s.port}`, '--ssh-config', s.config, '--command-timeout', '5s']
    expectContract(await run(o, ...args), 'OLLAMA_OK')
    process.kill(-o.pid, 'SIGSTOP')
    const confirming = await run(o, ...args)
    expectContract(confirming, 'OLLAMA_ALERT')
    const r = await run(o, ...args, '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token, r.stdout + r.stderr).toBe('OLLAMA_RECOVERED')
    expect(v.remedy).toBe('restart')
    expect(v.summary).toMatch(new RegExp(`restarted via ssh ssh://root@127\\.0\\.0\\.1:${s.port} systemctl restart ollama; verified`))
    // medic sent no signal: its only action was the manager's restart (then the verification).
    expect(v.actions.map((a: {action: string}) => a.action)).toEqual(['start', 'verify'])
    expect(s.commands()).toEqual(['sudo -n systemctl restart ollama'])
    expect(alive(o.pid)).toBe(false)
    expect(o.launches()).toBe(1)
    expect(sample(monitorMetrics(o), 'ollama_selfheal_restarts_total')).toBe(1)
  })

  it('BatchMode: a key the host does not accept fails at once (no prompt), ALERT', async () => {
    const o = await fakeOllama(j, 'healthy')
    const s = await startSshd(o)
    const args = ['--manager', 'ssh', '--ssh', `ssh://root@127.0.0.1:${s.port}`, '--ssh-config', s.badConfig, '--command-timeout', '5s']
    await run(o, ...args)
    process.kill(-o.pid, 'SIGSTOP')
    await run(o, ...args)
    const r = await run(o, ...args, '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token).toBe('OLLAMA_ALERT')
    expect(v.summary).toMatch(/start failed: ssh ssh:\/\/root@127\.0\.0\.1:\d+ systemctl restart ollama: exit 255: .*Permission denied/)
    expect(s.commands()).toEqual([])
    expect(o.launches()).toBe(0)
  })
})

describe('--manager ssh: what reaches ssh', () => {
  it('refuses an --ssh or --unit that could be an option or shell syntax, before anything runs', async () => {
    const dir = j.tmp()
    const env = {OLLAMA_HOST: 'http://127.0.0.1:1', PATH: `${dir}:${process.env.PATH}`}
    writeFileSync(join(dir, 'ssh'), `#!/bin/sh\necho called >> ${join(dir, 'called')}\n`, {mode: 0o755})
    for (const [flag, value] of [['--ssh', '-oProxyCommand=touch /tmp/pwned'], ['--ssh', 'root@host;reboot'], ['--unit', 'ollama;reboot'], ['--unit', '$(reboot)'], ['--unit', 'ollama\\x2dx'], ['--unit', '-h']]) {
      const args = ['ollama', 'frozen-check', '--state-dir', dir, '--manager', 'ssh', '--ssh', 'root@gpu-box', flag, value]
      const r = await medic(args, {env})
      expectContract(r, 'OLLAMA_UNKNOWN')
      expect(r.code).toBe(3)
    }
    expect(existsSync(join(dir, 'called'))).toBe(false)
    const missing = await medic(['ollama', 'frozen-check', '--state-dir', dir, '--manager', 'ssh'], {env})
    expect(missing.lines[0]).toBe('OLLAMA_UNKNOWN: --manager ssh needs --ssh [user@]host')
    const other = await medic(['ollama', 'frozen-check', '--state-dir', dir, '--manager', 'docker', '--ssh', 'gpu-box'], {env})
    expect(other.lines[0]).toBe('OLLAMA_UNKNOWN: --ssh goes with --manager ssh, not --manager docker')
  })

  it('BatchMode, ConnectTimeout, no stdin, "--" before the destination, the unit as one word', async () => {
    // A stand-in ssh on PATH records its argv; the server is stopped, so medic restarts.
    const o = await fakeOllama(j, 'healthy')
    const dir = j.tmp()
    writeFileSync(join(dir, 'ssh'), `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(join(dir, 'argv'))}, JSON.stringify(process.argv.slice(2)) + '\\n')\n`, {mode: 0o755})
    const env = {...o.env, PATH: `${dir}:${o.env.PATH}`}
    const args = [...o.args('--manager', 'ssh', '--ssh', 'homelab@192.168.15.2', '--unit', 'ollama@gpu0.service', '--no-ssh-sudo', '--command-timeout', '7s', '--cooldown', '0s')]
    await medic(args, {env})
    process.kill(-o.pid, 'SIGSTOP')
    await medic(args, {env})
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT') // the stand-in restarted nothing
    const calls = readFileSync(join(dir, 'argv'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(calls).toEqual([['-n', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=7', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2', '--', 'homelab@192.168.15.2', 'systemctl', 'restart', 'ollama@gpu0.service']])
    expect(alive(o.pid)).toBe(true) // remote: nothing local is signalled, even on a loopback URL
    process.kill(-o.pid, 'SIGCONT')
  })
})
