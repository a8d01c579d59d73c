import {UNMEASURED_FLAGS} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'uninstall',
  subject: 'INSTALL',
  observable: false,
  summary: 'Remove exactly what medic install wrote under a name: stop and disable its units, remove its files, its crontab block, its wsl.conf line.',
  description: `Reads the manifest medic install left in <state-dir>/install/<name>.json. A file is removed only while it is byte for byte what medic wrote; one changed by hand since, or replaced by a symlink, is left in place and named (INSTALL_ALERT). Directories medic created are removed only when empty. The rest of wsl.conf and of your crontab is kept byte for byte.

INSTALL_OK        removed (or nothing was installed under that name)
INSTALL_ALERT     something was left in place (changed by hand, or could not be removed)
INSTALL_UNKNOWN   bad input`,
  examples: ['<%= config.bin %> <%= command.id %> --name health-gateway', '<%= config.bin %> <%= command.id %> --name gateway --dry-run'],
  flags: {
    name: {type: 'string', description: 'The install’s name (medic verify lists them).'},
    'dry-run': {type: 'boolean', description: 'Say what would be removed; change nothing.'},
    ...UNMEASURED_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{UsageError}, {validName}, {makeInstallDeps}, {uninstall}] = await Promise.all([import('../parse.js'), import('../../core/units-plan.js'), import('../../deps.js'), import('../../ops/install.js')])
    const name = f.name
    if (!name) throw new UsageError('--name is required: which install to remove')
    if (!validName(name)) throw new UsageError(`--name ${JSON.stringify(name)}: letters, digits, _ and - only`)
    const deps = await makeInstallDeps({stateDir: f['state-dir'], stderr})
    return uninstall({name, dryRun: f['dry-run'] === true}, deps)
  },
})

export default spec
