import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/dashboard.js'

export default commandFromSpec(spec)
