import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/run-dev-safe.js'

export default commandFromSpec(spec)
