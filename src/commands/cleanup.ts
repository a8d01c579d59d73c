import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/cleanup.js'

export default commandFromSpec(spec)
