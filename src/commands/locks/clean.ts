import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/locks-clean.js'

export default commandFromSpec(spec)
