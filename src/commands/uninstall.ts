import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/uninstall.js'

export default commandFromSpec(spec)
