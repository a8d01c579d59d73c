import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/kill-trace.js'

export default commandFromSpec(spec)
