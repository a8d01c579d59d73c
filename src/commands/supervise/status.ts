import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/supervise-status.js'

export default commandFromSpec(spec)
