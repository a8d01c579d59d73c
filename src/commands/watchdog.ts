import {commandFromSpec} from '../cli/oclif-adapter.js'
import spec from '../cli/specs/watchdog.js'

export default commandFromSpec(spec)
