import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/verify.js'

export default commandFromSpec(spec)
