import {commandFromSpec} from '../../cli/oclif-adapter.js'
import {protectRemove} from '../../cli/specs/protect.js'

export default commandFromSpec(protectRemove)
