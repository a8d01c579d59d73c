import type {ServiceManager} from './service-manager.js'

export function noManager(reason: string): ServiceManager {
  return {
    kind: 'none',
    label: 'none',
    status: async () => ({available: false, reason}),
    servicePids: () => null,
    stop: async () => null,
    start: async () => ({ok: false, detail: reason}),
  }
}
