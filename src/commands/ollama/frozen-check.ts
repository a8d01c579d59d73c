import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/ollama-frozen-check.js'

export default commandFromSpec(spec)
