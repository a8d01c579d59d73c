import {commandFromSpec} from '../cli/oclif-adapter.js'
import {isolate} from '../cli/specs/run-dev-safe.js'

export default commandFromSpec(isolate)
