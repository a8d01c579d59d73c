import {commandFromSpec} from '../../cli/oclif-adapter.js'
import spec from '../../cli/specs/sessions-archive.js'

export default commandFromSpec(spec)
