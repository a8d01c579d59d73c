import {commandFromSpec} from '../../cli/oclif-adapter.js'
import {protectAdd} from '../../cli/specs/protect.js'

export default commandFromSpec(protectAdd)
