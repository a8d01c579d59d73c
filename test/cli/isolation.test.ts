// medic isolation: setup_resource_isolation.sh's intent, minus its bugs (not idempotent,
// edits to source files, a config nothing read, an env file without export, no mode check).
import {spawnSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, Janitor, medic} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** A project tree with a source file the seed's script used to append to. */
function project(): string {
  const root = j.tmp()
  mkdirSync(join(root, 'src', 'monitor'), {recursive: true})
  writeFileSync(join(root, 'src', 'monitor', 'resource_protector.py'), '# the protector\n')
  return root
}

function tree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, pre: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      out.push(pre + e.name)
      if (e.isDirectory()) walk(join(d, e.name), `${pre}${e.name}/`)
    }
  }
  walk(dir, '')
  return out.sort()
}

describe('medic isolation', () => {
  it('writes one config and an exported env file, touches no source file, and a second run changes nothing', async () => {
    const root = project()
    const src = readFileSync(join(root, 'src', 'monitor', 'resource_protector.py'), 'utf8')
    const r = await medic(['isolation', root, 'test', '--write-env-file', '.env.resource_config'])
    expectContract(r, 'GUARD_OK')
    expect(r.lines[0]).toBe(`GUARD_OK: wrote ${root}/medic.isolation.json and ${root}/.env.resource_config (mode test)`)
    expect(r.lines.slice(1).join('\n')).toContain(`medic guard --config ${root}/medic.isolation.json`)
    expect(r.lines.slice(1).join('\n')).toContain(`medic run-dev-safe --config ${root}/medic.isolation.json -- CMD`)
    expect(tree(root)).toEqual(['.env.resource_config', 'medic.isolation.json', 'src', 'src/monitor', 'src/monitor/resource_protector.py'])
    expect(readFileSync(join(root, 'src', 'monitor', 'resource_protector.py'), 'utf8')).toBe(src)
    const cfg = JSON.parse(readFileSync(join(root, 'medic.isolation.json'), 'utf8'))
    expect(cfg).toMatchObject({writtenBy: 'medic isolation', mode: 'test', nice: 10, limits: {test: {cpuPercent: 85, memoryPercent: 88, killCpuPercent: 90, startupGraceSeconds: 30, preferNice: true}}})
    expect(cfg.devPatterns).toContain('03_run_500_cycles')
    expect(cfg.daemonPatterns).toContain('uvicorn')
    const st = statSync(join(root, 'medic.isolation.json'))
    const again = await medic(['isolation', root, 'test', '--write-env-file', '.env.resource_config'])
    expect(again.lines[0]).toMatch(/^GUARD_OK: unchanged /)
    const st2 = statSync(join(root, 'medic.isolation.json'))
    expect([st2.ino, st2.mtimeMs]).toEqual([st.ino, st.mtimeMs])
  })

  it('the env file\'s variables reach the children of the shell that sources it, and guard and run-dev-safe read the config through them', async () => {
    const root = project()
    await medic(['isolation', root, 'test', '--write-env-file', 'env.sh'])
    const sh = spawnSync('sh', ['-c', `. ${root}/env.sh && sh -c 'echo "$MEDIC_ISOLATION_CONFIG|$MEDIC_GUARD_MODE|$OMNIMIND_RESOURCE_PROTECTOR_MODE|$OMNIMIND_DEV_SCRIPT_NICE"'`], {encoding: 'utf8'})
    expect(sh.stdout.trim()).toBe(`${root}/medic.isolation.json|test|test|10`)
    const env = {MEDIC_ISOLATION_CONFIG: `${root}/medic.isolation.json`, MEDIC_GUARD_MODE: 'test'}
    const o = JSON.parse((await medic(['guard', 'status', '--json', '--sample', '100ms'], {env})).stdout)
    expect(o).toMatchObject({mode: 'test', config: `${root}/medic.isolation.json`, memory: {limit: 88}, cpu: {limit: 85}})
    const job = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--', process.execPath, '-e', 'const st=require("fs").readFileSync("/proc/self/stat","utf8");console.log(st.slice(st.lastIndexOf(")")+2).split(" ")[16])'], {env: {...env, MEDIC_ISOLATION_CONFIG: `${root}/medic.isolation.json`}})
    expect(job.stdout.trim()).toBe('10')
  })

  it('a mode change keeps hand-edited limits; --reset drops them', async () => {
    const root = project()
    await medic(['isolation', root, 'dev'])
    const path = join(root, 'medic.isolation.json')
    const cfg = JSON.parse(readFileSync(path, 'utf8'))
    cfg.limits.prod.memoryPercent = 70
    cfg.devPatterns.push('my_long_job')
    writeFileSync(path, JSON.stringify(cfg, null, 2))
    const r = await medic(['isolation', root, 'prod', '--nice', '5', '--memory-max', '2GiB'])
    expectContract(r, 'GUARD_OK')
    const after = JSON.parse(readFileSync(path, 'utf8'))
    expect(after).toMatchObject({mode: 'prod', nice: 5, runDevSafe: {nice: 5, memoryMax: 2 * 1024 ** 3}, limits: {prod: {memoryPercent: 70}}})
    expect(after.devPatterns).toContain('my_long_job')
    await medic(['isolation', root, 'prod', '--reset'])
    expect(JSON.parse(readFileSync(path, 'utf8')).limits.prod.memoryPercent).toBe(95)
  })

  it('validates the mode and the root; never replaces a file medic did not write; a dry run writes nothing', async () => {
    const root = project()
    const bad = await medic(['isolation', root, 'staging'])
    expectContract(bad, 'GUARD_UNKNOWN')
    expect(bad.code).toBe(3)
    const none = await medic(['isolation', join(root, 'nope'), 'dev'])
    expectContract(none, 'GUARD_UNKNOWN')
    expect(none.code).toBe(3)
    const dry = await medic(['isolation', root, 'dev', '--dry-run', '--json'])
    expect(JSON.parse(dry.stdout)).toMatchObject({token: 'GUARD_OK', dryRun: true, changed: [`${root}/medic.isolation.json`]})
    expect(tree(root)).not.toContain('medic.isolation.json')
    writeFileSync(join(root, 'medic.isolation.json'), '{"mine": true}\n')
    const r = await medic(['isolation', root, 'dev'])
    expectContract(r, 'GUARD_ALERT')
    expect(r.lines[0]).toMatch(/exists and was not written by medic isolation: not replaced/)
    expect(readFileSync(join(root, 'medic.isolation.json'), 'utf8')).toBe('{"mine": true}\n')
    writeFileSync(join(root, 'env.sh'), 'export MINE=1\n')
    await medic(['isolation', join(root, 'src'), 'dev', '--write-env-file', '../env.sh'])
    expect(readFileSync(join(root, 'env.sh'), 'utf8')).toBe('export MINE=1\n')
  })
})
