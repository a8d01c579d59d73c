import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/isolation.js'

export default commandFromSpec(spec)
