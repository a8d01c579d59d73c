import {commandFromSpec} from '../../cli/oclif-adapter.js'
import {protectList} from '../../cli/specs/protect.js'

export default commandFromSpec(protectList)
