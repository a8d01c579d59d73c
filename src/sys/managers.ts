/**
 * What runs a service, one file per kind under sys/managers/: the interface
 * (service-manager.ts), systemd, pm2, docker, command, medic supervise, none, and
 * `--manager auto`'s detection (detect.ts).
 */
export {MANAGER_KINDS, execStep, type ManagerKind, type ManagerOptions, type ManagerStatus, type ServiceManager, type StepResult} from './managers/service-manager.js'
export {systemdManager} from './managers/systemd.js'
export {pm2Manager} from './managers/pm2.js'
export {dockerManager} from './managers/docker.js'
export {commandManager} from './managers/command.js'
export {superviseManager} from './managers/supervise.js'
export {noManager} from './managers/none.js'
export {detectManager, makeManager} from './managers/detect.js'
