import type {GuardConfig} from '../core/guard-config.js'

/** The isolation config named by --config (or $MEDIC_ISOLATION_CONFIG): one that cannot be read or validated is bad input. */
export async function configFromFlag(path: string | undefined): Promise<GuardConfig> {
  const [{UsageError}, {loadGuardConfig, GuardConfigError}] = await Promise.all([import('./parse.js'), import('../sys/guard-store.js')])
  try {
    return loadGuardConfig(path)
  } catch (e) {
    if (e instanceof GuardConfigError) throw new UsageError(e.message)
    throw e
  }
}
