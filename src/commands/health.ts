import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/health.js'

export default commandFromSpec(spec)
