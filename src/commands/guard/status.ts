import {commandFromSpec} from '../../cli/oclif-adapter.js'
import {guardStatus} from '../../cli/specs/guard.js'

export default commandFromSpec(guardStatus)
