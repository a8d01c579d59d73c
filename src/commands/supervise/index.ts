import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/supervise.js'

export default commandFromSpec(spec)
