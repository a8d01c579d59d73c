// A flood of names in the protected registry (attack-gate E1): any user can add names to
// the sticky host directory. Root's medic must still finish within --timeout (the registry
// is read once per run, junk names cost no open), and a registry it cannot read whole
// means nothing is signalled but an owner's own job (fail closed).
import {closeSync, chmodSync, mkdirSync, openSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {registryPlaces, registryReader, scanRegistry} from '../../src/sys/protected-registry.js'
import {makeSignalGate} from '../../src/sys/signal-gate.js'
import {alive, expectContract, Janitor, medic, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** A host registry of the test's own (root-owned, 1777 like /run/medic/protected). */
function hostRegistry(): string {
  const parent = j.tmp()
  chmodSync(parent, 0o755)
  const host = join(parent, 'protected')
  mkdirSync(host, {mode: 0o1777})
  chmodSync(host, 0o1777)
  return host
}

/** `n` empty entry files: names of running pids with wrong start times, and of pids that do not exist. */
function flood(dir: string, n: number): void {
  const live = procTable.list()
  for (let i = 0; i < n; i++) {
    const name = i % 2 === 0 ? `${live[i % live.length]}-${i + 7}.json` : `${9_000_000 + i}-1.json`
    closeSync(openSync(join(dir, name), 'w'))
  }
}

describe('a flooded protected registry', () => {
  it('E1: 100k junk names: cleanup still frees the port within --timeout 5s', async () => {
    const host = hostRegistry()
    flood(host, 100_000)
    const svc = await startService(j)
    const r = await medic(['cleanup', '--port', String(svc.port), '--timeout', '5s', '--state-dir', j.tmp()], {env: {MEDIC_PROTECTED_DIR: host}})
    expectContract(r, 'PORT_RECOVERED')
    expect(alive(svc.pid)).toBe(false)
  })

  it('E1: a registry with more names than a scan reads is not whole: the gate signals nothing (and says why)', async () => {
    const host = hostRegistry()
    flood(host, 40)
    const svc = await startService(j)
    const places = {...registryPlaces(null), host, shm: j.tmp()}
    const scan = scanRegistry(places, procTable, {maxNames: 10})
    expect(scan.incomplete).toBe(`${host} holds more than 10 names; the rest were not read`)
    const read = registryReader(places, procTable, {maxNames: 10})
    let problem: string | null = null
    const gate = makeSignalGate({procs: procTable, registry: () => ((r) => ((problem = r.incomplete), r.live))(read()), registryProblem: () => problem, policy: {protect: [], match: null}})
    const sent = gate.send(svc.pid, procTable.stat(svc.pid)!.startTime, 'SIGTERM')
    expect(sent).toEqual({result: 'refused', reason: `the protected registry could not be read whole (${host} holds more than 10 names; the rest were not read); nothing is signalled`})
    expect(alive(svc.pid)).toBe(true)
  })

  it('the gate reads the registry again when an entry is added (the cache never hides a new registration)', async () => {
    const host = hostRegistry()
    const svc = await startService(j)
    const places = {...registryPlaces(null), host, shm: j.tmp()}
    const read = registryReader(places, procTable)
    expect(read().live).toEqual([])
    const st = procTable.stat(svc.pid)!
    writeFileSync(join(host, `${svc.pid}-${st.startTime}.json`), JSON.stringify({version: 1, pid: svc.pid, startTime: st.startTime, name: 'late', cmdline: [], descendants: true, registeredAt: ''}))
    expect(read().live.map((e) => e.name)).toEqual(['late'])
  })
})
