import {COMMON_FLAGS} from '../common-flags.js'
import type {CommandSpec} from '../spec.js'

const spec: CommandSpec = {
  id: 'ollama rules',
  subject: 'OLLAMA',
  summary: 'Print (or write) a Prometheus rules file over the metrics medic emits.',
  description: `Replaces selfhealing_rules.yml, whose rules named metrics nothing emitted. Every expression names only series that 'medic ollama frozen-check' and 'medic ollama metrics' write: down, frozen, budget exhausted, restarts in the last hour, and a stale monitor. The file passes 'promtool check rules' (the test suite runs it).

OLLAMA_OK   the rules were written (--file) or printed (-v prints them after line 1; --raw prints only the YAML)`,
  examples: ['<%= config.bin %> <%= command.id %> --raw > /etc/prometheus/rules/medic-ollama.yml', '<%= config.bin %> <%= command.id %> --file /etc/prometheus/rules/medic-ollama.yml'],
  flags: {
    file: {type: 'string', description: 'Write the rules here (atomically).'},
    raw: {type: 'boolean', description: 'Print only the YAML, no verdict line (for a redirect into a file).'},
    ...COMMON_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{RULES_YAML}, {writeFileAtomic}] = await Promise.all([import('../../core/ollama/metrics.js'), import('../../sys/state-store.js')])
    if (f.raw) {
      process.stdout.write(RULES_YAML)
      process.exit(0)
    }
    if (f.file) writeFileAtomic(f.file as string, RULES_YAML)
    const rules = RULES_YAML.match(/- alert: (\S+)/g)!.map((x) => x.slice(9))
    return {subject: 'OLLAMA', status: 'OK', summary: `${rules.length} rules (${rules.join(', ')})${f.file ? ` written to ${f.file}` : ''}`, checks: [], actions: [], details: RULES_YAML.trimEnd().split('\n')}
  },
}

export default spec
