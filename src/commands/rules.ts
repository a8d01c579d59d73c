import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/rules.js'

export default commandFromSpec(spec)
