import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/cli/parse.js'
import * as v from '../../src/cli/validate.js'

/** The flag checks and derivations the specs' run() used to write inline: pure, so tested here without a process. */
const usage = (f: () => unknown, message: RegExp) => {
  expect(f).toThrow(UsageError)
  expect(f).toThrow(message)
}

describe('unit names (one rule for health, watchdog, ollama, drill, install, verify)', () => {
  it('accepts systemd names, escapes and templates', () => {
    for (const u of ['clawdbot-gateway', 'ollama.service', 'getty@tty1.service', 'dev-disk-by\\x2dlabel.device', 'a:b']) expect(v.unitName(u)).toBe(u)
  })

  it('refuses spaces, slashes, shell words and the empty name', () => {
    for (const u of ['a b', '../x', 'x;reboot', '$(id)', '']) usage(() => v.unitName(u), /--unit .*: not a unit name/)
  })

  it('for ssh, also refuses a backslash and what the remote shell would read differently', () => {
    const safe = (w: string) => /^[A-Za-z0-9@._:-]+$/.test(w)
    expect(v.remoteUnitName('ollama', safe)).toBe('ollama')
    usage(() => v.remoteUnitName('a\\x2db', safe), /can be sent over ssh/)
    usage(() => v.remoteUnitName('a;b', () => true), /can be sent over ssh/)
    usage(() => v.remoteUnitName('ollama', () => false), /can be sent over ssh/)
  })
})

describe('service names', () => {
  it('takes the positional over --name, and checks whichever it takes', () => {
    expect(v.serviceName('whatsapp', 'gateway')).toBe('whatsapp')
    expect(v.serviceName(undefined, 'gateway')).toBe('gateway')
    usage(() => v.serviceName('../../tmp/x', 'gateway'), /service name "..\/..\/tmp\/x"/)
    usage(() => v.serviceName(undefined, '..'), /only dots/)
  })
})

describe('http(s) URLs (health --url, drill --url, supervise and boot --health-url)', () => {
  it('accepts http and https', () => {
    expect(v.httpUrl('url', 'http://127.0.0.1:1/health')).toBe('http://127.0.0.1:1/health')
    expect(v.httpUrl('health-url', 'https://x/')).toBe('https://x/')
  })

  it('refuses other schemes and what is not a URL, naming the flag', () => {
    usage(() => v.httpUrl('url', 'ftp://x'), /^--url "ftp:\/\/x": only http and https$/)
    usage(() => v.httpUrl('health-url', 'http://'), /^--health-url "http:\/\/": Invalid URL/)
    usage(() => v.httpUrl('health-url', '127.0.0.1:80'), /--health-url/)
  })
})

describe('command lines (--start-cmd …)', () => {
  it('splits like ExecStart and refuses an empty or unbalanced one', () => {
    expect(v.commandLine('start-cmd', undefined)).toBeUndefined()
    expect(v.commandLine('start-cmd', `/bin/x "a b" 'c'`)).toEqual(['/bin/x', 'a b', 'c'])
    usage(() => v.commandLine('stop-cmd', '   '), /^--stop-cmd: empty command$/)
    usage(() => v.commandLine('stop-cmd', '"open'), /^--stop-cmd: /)
  })
})

describe('health', () => {
  const probe = {tcp: false, url: undefined, port: 18789, 'healthy-status': '200-399'}

  it('derives the URL from the port, none with --tcp, and the healthy range', () => {
    expect(v.healthProbe(probe)).toEqual({url: 'http://127.0.0.1:18789/health', healthy: [200, 399]})
    expect(v.healthProbe({...probe, tcp: true, url: 'ftp://ignored'})).toEqual({url: null, healthy: [200, 399]})
    expect(v.healthProbe({...probe, 'healthy-status': ' 204 '}).healthy).toEqual([204, 204])
  })

  it('refuses a bad range before a bad URL', () => {
    usage(() => v.healthProbe({...probe, url: 'ftp://x', 'healthy-status': '2xx'}), /--healthy-status "2xx"/)
    usage(() => v.healthProbe({...probe, 'healthy-status': '399-200'}), /empty range/)
    usage(() => v.healthProbe({...probe, url: 'ftp://x'}), /--url "ftp:\/\/x": only http and https/)
  })

  it('waits for a concurrent run verify-timeout + 2 × grace + 10s unless told', () => {
    expect(v.healthLockWaitMs({'lock-wait': undefined, 'verify-timeout': 30_000, grace: 5000})).toBe(50_000)
    expect(v.healthLockWaitMs({'lock-wait': 0, 'verify-timeout': 30_000, grace: 5000})).toBe(0)
  })

  const log = {'log-pattern': undefined, 'log-source': undefined, 'log-threshold': 1, 'repair-on-log': false, 'command-timeout': 10_000, unit: 'gw', container: undefined}
  it('reads the log from --log-source, the unit journal or the container, by manager', () => {
    const pattern = /boom/
    expect(v.healthLogWatch(log, 'systemd', 'gateway')).toBeNull()
    expect(v.healthLogWatch({...log, 'log-pattern': pattern}, 'systemd-user', 'gateway')?.source).toEqual({kind: 'journal', unit: 'gw', user: true})
    expect(v.healthLogWatch({...log, 'log-pattern': pattern}, 'docker', 'gateway')?.source).toEqual({kind: 'docker', container: 'gateway'})
    expect(v.healthLogWatch({...log, 'log-pattern': pattern, 'log-source': '/x.log'}, 'pm2', 'gateway')?.source).toEqual({kind: 'file', path: '/x.log'})
    usage(() => v.healthLogWatch({...log, 'log-pattern': pattern}, 'pm2', 'gateway'), /--log-pattern with --manager pm2: say where the log is/)
  })

  it('refuses --log-source or --repair-on-log without --log-pattern', () => {
    usage(() => v.healthLogWatch({...log, 'log-source': '/x'}, 'systemd', 'g'), /^--log-source goes with --log-pattern$/)
    usage(() => v.healthLogWatch({...log, 'repair-on-log': true}, 'systemd', 'g'), /^--repair-on-log goes with --log-pattern$/)
  })
})

describe('supervise: the child environment', () => {
  const parent = {PATH: '/usr/bin', HOME: '/root', SECRET: 's', TZ: ''}
  it('gives only the sane PATH and a few names unless --inherit-env, then --env on top', () => {
    expect(v.childEnv(['A=1', 'B=x=y'], false, parent, '/bin')).toEqual({PATH: '/bin', HOME: '/root', A: '1', B: 'x=y'})
    expect(v.childEnv(['PATH=/opt'], true, parent, '/bin')).toEqual({...parent, PATH: '/opt'})
  })

  it('refuses an --env that is not KEY=VALUE', () => {
    usage(() => v.childEnv(['=x'], false, parent, '/bin'), /^--env "=x": expected KEY=VALUE$/)
    usage(() => v.childEnv(['X'], false, parent, '/bin'), /--env "X"/)
  })
})

describe('ollama frozen-check: the seed positional form', () => {
  it('maps $1..$4 to --threshold --interval --max-restarts --cooldown', () => {
    expect(v.seedMonitorArgs(['180', '15', '3', '60'], new Set())).toEqual({threshold: 180_000, interval: 15_000, 'max-restarts': 3, cooldown: 60_000})
    expect(v.seedMonitorArgs([], new Set())).toEqual({})
  })

  it('refuses a value given twice, a bad number, a too short interval', () => {
    usage(() => v.seedMonitorArgs(['180'], new Set(['threshold'])), /threshold given twice/)
    usage(() => v.seedMonitorArgs(['180', '15', '0'], new Set()), /argument 3 \(max restarts per hour\) "0"/)
    usage(() => v.seedMonitorArgs(['soon'], new Set()), /argument 1 \(threshold\) "soon"/)
    usage(() => v.seedMonitorArgs(['180', '5ms'], new Set()), /argument 2 \(interval\) "5ms": must be at least 10ms/)
  })

  it('allows one mode', () => {
    expect(() => v.oneMode([false, '--reset', false])).not.toThrow()
    usage(() => v.oneMode(['--test', false, '--watch']), /^--test and --watch do not go together$/)
  })
})

describe('ollama metrics: the refresh interval', () => {
  const f = {watch: undefined, daemon: false, test: false, stdout: false}
  it('is --watch, or --daemon [N] (15s by default), or none', () => {
    expect(v.exporterInterval(f, [])).toBeUndefined()
    expect(v.exporterInterval({...f, watch: 5000}, [])).toBe(5000)
    expect(v.exporterInterval({...f, daemon: true}, [])).toBe(15_000)
    expect(v.exporterInterval({...f, daemon: true}, ['30'])).toBe(30_000)
  })

  it('refuses the combinations that mean nothing', () => {
    usage(() => v.exporterInterval(f, ['30']), /an interval goes with --daemon/)
    usage(() => v.exporterInterval({...f, daemon: true, watch: 1000}, []), /--daemon and --watch do not go together/)
    usage(() => v.exporterInterval({...f, daemon: true}, ['0']), /--daemon "0"/)
    usage(() => v.exporterInterval({...f, stdout: true, watch: 1000}, []), /print one collection/)
  })
})

describe('drill: the fault and its target', () => {
  const f = {kind: ['kill'], hold: 5000, within: 60_000, name: undefined, pid: undefined, unit: undefined, port: 18789, url: undefined}
  it('returns a typed request', () => {
    expect(v.drillRequest(f)).toEqual({kind: 'kill', name: null, pid: null, unit: null, port: 18789, url: null})
    expect(v.drillRequest({...f, unit: 'gw.service', url: 'http://x/'})).toMatchObject({unit: 'gw.service', url: 'http://x/'})
  })

  it('refuses no fault, two, an unknown one, a hold as long as the window, no target, --pid with --unit', () => {
    usage(() => v.drillRequest({...f, kind: []}), /which fault\?/)
    usage(() => v.drillRequest({...f, kind: ['kill', 'stop']}), /one fault at a time, not kill and stop/)
    usage(() => v.drillRequest({...f, kind: ['explode']}), /unknown fault "explode": expected kill, stop, squat, crash-loop or freeze/)
    usage(() => v.drillRequest({...f, kind: ['crash-loop'], hold: 60_000}), /--hold 60s must be shorter than --within 60s \(the default\)/)
    usage(() => v.drillRequest({...f, kind: ['crash-loop'], hold: 60_000}, new Set(['within'])), /--hold 60s must be shorter than --within 60s: /)
    usage(() => v.drillRequest(f, new Set(['hold'])), /--hold is for crash-loop only/)
    usage(() => v.drillRequest({...f, port: undefined}), /name the service/)
    usage(() => v.drillRequest({...f, pid: 2, unit: 'x'}), /--pid and --unit both name the target/)
    usage(() => v.drillRequest({...f, name: 'a b'}), /--name "a b": letters, digits/)
    usage(() => v.drillRequest({...f, unit: 'a b'}), /--unit "a b": not a unit name/)
    usage(() => v.drillRequest({...f, url: 'ftp://x'}), /--url "ftp:\/\/x": only http and https/)
  })
})
