import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/drill.js'

export default commandFromSpec(spec)
