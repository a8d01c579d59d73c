import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/boot.js'

export default commandFromSpec(spec)
