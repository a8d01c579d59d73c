import {commandFromSpec} from '../../cli/oclif-adapter.js'
import {guard} from '../../cli/specs/guard.js'

export default commandFromSpec(guard)
