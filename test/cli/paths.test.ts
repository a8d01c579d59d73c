import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {ANY_TOKEN, expectContract, medic, TOKEN_LINE} from '../helpers/procs.js'

// Every path of the CLI keeps the contract (issue 11 item 3): help and version work after
// anything and exit 0 with no token; every mistyped command, topic or flag is one token
// line `<SUBJECT>_UNKNOWN: …`, exit 3, nothing but the hint on stderr, no oclif "› Error".

const home = mkdtempSync(join(tmpdir(), 'medic-paths-'))
afterAll(() => rmSync(home, {recursive: true, force: true}))
const env = {HOME: home, XDG_CACHE_HOME: join(home, '.cache'), XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share')}

const helpOk: [string[], RegExp][] = [
  [[], /^USAGE\n {2}\$ medic \[COMMAND\]/m],
  [['-h'], /^TOPICS\n/m],
  [['--help'], /^EXIT CODES\n/m],
  [['help'], /^COMMANDS\n/m],
  [['help', 'cleanup'], /\$ medic cleanup /],
  [['help', 'supervise', 'status'], /\$ medic supervise status/],
  [['cleanup', '-h'], /\$ medic cleanup /],
  [['cleanup', '--help'], /\$ medic cleanup /],
  [['cleanup', '--port', '5', '-h'], /\$ medic cleanup /],
  [['ollama', 'frozen-check', '-h'], /--test exits 0 whatever it saw/],
  [['ollama'], /^Ollama on a GPU box/],
  [['ollama', '-h'], /^Ollama on a GPU box/],
  [['help', 'ollama'], /^Ollama on a GPU box/],
  [['protect'], /^The host-wide list of what medic never signals/],
  [['locks', '--help'], /^Lock files left behind/],
  [['sessions'], /^Oversized \*\.jsonl session files/],
  [['commands'], /^ollama frozen-check +Catch the Ollama/m],
  [['run-dev-safe', '--help'], /^EXIT CODES\n {2}The job's own status/m],
]

describe('help, version and listings exit 0 with no token', () => {
  it.each(helpOk)('medic %j', async (args, shape) => {
    const r = await medic(args, {env})
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(shape)
    // a page of help documents tokens, but never starts like a verdict
    expect(r.lines[0] ?? '').not.toMatch(TOKEN_LINE)
  })

  it.each([[['-V']], [['--version']], [['version']], [['cleanup', '-V']], [['ollama', '--version']]])('medic %j prints the version', async (args) => {
    const r = await medic(args, {env})
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^medic\/\d+\.\d+\.\d+ linux-\w+ node-v\d+/)
  })

  it('the EXIT CODES section is its own section, after a blank line, on every command page', async () => {
    const r = await medic(['boot', '--help'], {env})
    expect(r.stdout).toMatch(/\n\nEXIT CODES\n {2}status {5}nagios/)
    // the wsl.conf line is printed as one line, copyable
    expect(r.stdout).toMatch(/^ {6}command = \/usr\/local\/bin\/medic boot .* -- \/usr\/bin\/node \S+ gateway --port 18789$/m)
  })
})

const errors: [string[], string, RegExp][] = [
  [['ollama', 'frozen-chek'], 'OLLAMA', /unknown command "ollama frozen-chek"; did you mean "ollama frozen-check"\?/],
  [['ollama', 'bogus'], 'OLLAMA', /unknown command "ollama bogus"$/],
  [['ollama', '--bogus'], 'OLLAMA', /unknown flag --bogus/],
  [['protect', 'bogus'], 'PROTECT', /unknown command "protect bogus"/],
  [['protect', 'lsit'], 'PROTECT', /did you mean "protect list"\?/],
  [['locks', 'bogus'], 'WATCHDOG', /unknown command "locks bogus"/],
  [['sessions', 'bogus'], 'WATCHDOG', /unknown command "sessions bogus"/],
  [['help', 'nosuch'], 'MEDIC', /unknown command "nosuch"/],
  [['help', 'bogus'], 'MEDIC', /unknown command "bogus"/],
  [['help', 'ollama', 'bogus'], 'OLLAMA', /unknown command "ollama bogus"/],
  [['nosuch', '--help'], 'MEDIC', /unknown command "nosuch"/],
  [['clenaup'], 'MEDIC', /did you mean "cleanup"\?/],
  [['frozen-check'], 'MEDIC', /did you mean "ollama frozen-check"\?/],
  [['--bogus'], 'MEDIC', /unknown flag --bogus/],
  [['cleanup', '--grace', '-5'], 'PORT', /--grace "-5": expected a duration/],
  [['cleanup', '--gracee', '5'], 'PORT', /unknown flag --gracee; did you mean --grace\?/],
  [['cleanup', '--grace'], 'PORT', /flag --grace needs a value/],
  [['health', '--no-repiar'], 'GATEWAY', /unknown flag --no-repiar; did you mean --no-repair\?/],
  [['supervise', 'status', '--nmae', 'x'], 'SUPERVISOR', /did you mean --name\?/],
  [['autocomplete', 'fish'], 'MEDIC', /autocomplete: unexpected "fish"/],
  // a bound says what it is, never "2 to …"
  [['kill-trace', '--pid', '1'], 'TRACE', /--pid "1": expected 2 or more$/],
  // a value that looks like -h is a (bad) value, not a request for help
  [['cleanup', '-p', '-h'], 'PORT', /flag -p needs a value/],
  [['health', '--url', '--help'], 'GATEWAY', /flag --url needs a value/],
]

describe('every mistyped command, topic or flag is a token line and exit 3', () => {
  it.each(errors)('medic %j → %s_UNKNOWN', async (args, subject, message) => {
    const r = await medic(args, {env})
    expectContract(r, `${subject}_UNKNOWN`)
    expect(r.lines).toHaveLength(1)
    expect(r.lines[0]).toMatch(message)
    expect(r.code).toBe(3)
    expect(r.stderr).not.toMatch(/›|Error:/)
    expect(r.stderr).not.toMatch(ANY_TOKEN)
  })

  it.each([[['ollama', 'frozen-chek', '--json']], [['nosuch', '--json']], [['cleanup', '--grace', '-5', '--json']]])('medic %j → one JSON object', async (args) => {
    const r = await medic(args, {env})
    const o = JSON.parse(r.stdout) as {token: string; exitCode: number}
    expect(o.token).toMatch(/_UNKNOWN$/)
    expect(o.exitCode).toBe(3)
    expect(r.code).toBe(3)
  })

  it('binary mode does not change a usage error', async () => {
    const r = await medic(['ollama', 'frozen-chek'], {env: {...env, MEDIC_EXIT_CODES: 'binary'}})
    expect(r.code).toBe(3)
  })
})

describe('shell completion (oclif autocomplete) for bash and zsh', () => {
  it('bash completes topics, commands under a topic and flags', async () => {
    const r = await medic(['autocomplete', 'bash'], {env})
    expect(r.code).toBe(0)
    const script = join(home, '.cache/medic/autocomplete/functions/bash/medic.bash')
    const complete = (words: string[]) => spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE='${words.join(' ')}'; _medic_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean)
    expect(complete(['medic', 'oll'])).toContain('ollama')
    expect(complete(['medic', 'ollama', 'fro'])).toEqual(['frozen-check'])
    expect(complete(['medic', 'cleanup', '--gr'])).toEqual(['--grace'])
    const setup = await medic(['autocomplete', 'script', 'bash'], {env})
    expect(setup.code).toBe(0)
    expect(setup.stdout).toContain('MEDIC_AC_BASH_SETUP_PATH')
  })

  const zsh = spawnSync('zsh', ['--version']).status === 0
  it.skipIf(!zsh)('zsh: the completion function parses and knows every topic and command (skipped without zsh)', async () => {
    const r = await medic(['autocomplete', 'zsh'], {env})
    expect(r.code).toBe(0)
    const fn = join(home, '.cache/medic/autocomplete/functions/zsh/_medic')
    expect(spawnSync('zsh', ['-n', fn]).status).toBe(0)
    const text = readFileSync(fn, 'utf8')
    for (const t of ['ollama', 'protect', 'locks', 'sessions', 'supervise']) expect(text).toContain(`_medic_${t}()`)
    expect(text).toMatch(/"frozen-check\[/)
    expect(text).toMatch(/--grace"\[/)
  })
})
