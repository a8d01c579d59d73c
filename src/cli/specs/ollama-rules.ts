import {COMMON_FLAGS} from '../common-flags.js'
import {DOCUMENT_FLAGS} from '../print-or-write.js'
import {command} from '../spec.js'

const spec = command({
  id: 'ollama rules',
  subject: 'OLLAMA',
  observable: false,
  summary: 'Print (or write) a Prometheus rules file over the metrics medic emits.',
  description: `Replaces selfhealing_rules.yml, which Prometheus could not load and whose rules named metrics nothing emitted. Every seed rule whose inputs medic emits is restored under its seed name, each with for:, a severity and a runbook annotation: OllamaFrozen, ServiceStalled, SelfHealingExhausted, ConsecutiveFailures, OllamaSlowResponse (probe latency), OllamaMemoryPressure (GPU memory), OllamaGPUOverheat, and the recording rules ollama:frozen_duration:seconds, ollama:health:status, selfhealing:service_health:ratio, selfhealing:stall_duration:seconds; plus OllamaDown, OllamaRestartedRecently and OllamaSelfhealStale. Not restored, for want of any producer: the goroutine half of OllamaFrozen and ollama:performance:ratio (tokens generated). Every expression names only series that 'medic ollama frozen-check' and 'medic ollama metrics' write; the test suite runs 'promtool check rules' and 'promtool test rules' with a unit test for every alert.

OLLAMA_OK   the rules were written (--file) or printed (-v prints them after line 1; --raw prints only the YAML)`,
  examples: ['<%= config.bin %> <%= command.id %> --raw > /etc/prometheus/rules/medic-ollama.yml', '<%= config.bin %> <%= command.id %> --file /etc/prometheus/rules/medic-ollama.yml'],
  flags: {
    ...DOCUMENT_FLAGS('rules YAML'),
    ...COMMON_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{rulesYaml, ALERTS, RECORDS}, {printOrWrite}] = await Promise.all([import('../../core/ollama/rules.js'), import('../print-or-write.js')])
    const RULES_YAML = rulesYaml()
    await printOrWrite(f, RULES_YAML)
    return {subject: 'OLLAMA', status: 'OK', summary: `${ALERTS.length} alerting and ${RECORDS.length} recording rules${f.file ? ` written to ${f.file}` : ''}: ${ALERTS.map((a) => a.alert).join(', ')}`, checks: [], actions: [], details: RULES_YAML.trimEnd().split('\n')}
  },
})

export default spec
