import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/ollama-metrics.js'

export default commandFromSpec(spec)
