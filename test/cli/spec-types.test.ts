import {describe, expect, expectTypeOf, it} from 'vitest'
import {COMMON_FLAGS} from '../../src/cli/common-flags.js'
import {parseCommandArgv} from '../../src/cli/parse.js'
import {command} from '../../src/cli/spec.js'

/**
 * A command's flag values are typed from its declaration (the expectTypeOf lines are
 * checked by tsc -p tsconfig.test.json before the suite runs), and parse.ts gives what the
 * types say.
 */
const spec = command({
  id: 't', subject: 'T', summary: '', description: '', examples: [],
  flags: {
    port: {type: 'port', default: '1', description: ''},
    ports: {type: 'port', multiple: true, description: ''},
    wait: {type: 'duration', description: ''},
    mode: {type: 'enum', options: ['a', 'b'], default: 'a', description: ''},
    match: {type: 'regex', description: ''},
    protect: {type: 'regex', multiple: true, description: ''},
    name: {type: 'name', default: 'x', description: ''},
    label: {type: 'string', description: ''},
    on: {type: 'boolean', allowNo: true, default: true, description: ''},
    ...COMMON_FLAGS,
  },
  run: async ({parsed}) => ({subject: 'T', status: 'OK', summary: String(parsed.flags.port), checks: [], actions: []}),
})

describe('typed command declarations', () => {
  it('type each flag from its declaration', () => {
    const f = parseCommandArgv(spec, [], {}).flags
    expectTypeOf(f.port).toEqualTypeOf<number>()
    expectTypeOf(f.ports).toEqualTypeOf<number[]>()
    expectTypeOf(f.wait).toEqualTypeOf<number | undefined>()
    expectTypeOf(f.mode).toEqualTypeOf<'a' | 'b'>()
    expectTypeOf(f.match).toEqualTypeOf<RegExp | undefined>()
    expectTypeOf(f.protect).toEqualTypeOf<RegExp[]>()
    expectTypeOf(f.name).toEqualTypeOf<string>()
    expectTypeOf(f.label).toEqualTypeOf<string | undefined>()
    expectTypeOf(f.on).toEqualTypeOf<boolean>()
    expectTypeOf(f.verbose).toEqualTypeOf<number>()
    expectTypeOf(f['exit-codes']).toEqualTypeOf<'nagios' | 'binary'>()
    expectTypeOf(f.timeout).toEqualTypeOf<number | undefined>()
    // @ts-expect-error: an undeclared flag is not there
    void f.nope
  })

  it('and parse.ts gives values of those types', () => {
    const a = parseCommandArgv(spec, [], {}).flags
    expect(a).toMatchObject({port: 1, ports: [], wait: undefined, mode: 'a', match: undefined, protect: [], name: 'x', label: undefined, on: true, verbose: 0, json: false, 'exit-codes': 'nagios'})
    const b = parseCommandArgv(spec, ['--ports', '2', '--ports', '3', '--wait', '5s', '--mode', 'b', '--match', 'x.', '--no-on', '-vv', '--exit-codes=binary'], {}).flags
    expect(b).toMatchObject({ports: [2, 3], wait: 5000, mode: 'b', on: false, verbose: 2, 'exit-codes': 'binary'})
    expect(b.match).toBeInstanceOf(RegExp)
  })
})
