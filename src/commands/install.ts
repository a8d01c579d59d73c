import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/install.js'

export default commandFromSpec(spec)
