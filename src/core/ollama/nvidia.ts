/** Parsers of `nvidia-smi --query-* --format=csv,noheader,nounits`. `[N/A]` is unknown, never 0. */

export interface GpuSample {
  index: number
  uuid: string
  util: number | null
  memUsedMiB: number | null
  memTotalMiB: number | null
  tempC: number | null
}

export interface ComputeApp {
  pid: number
  gpuUuid: string
  usedMiB: number | null
}

export const GPU_QUERY = 'index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu'
export const APPS_QUERY = 'pid,gpu_uuid,used_memory'

const num = (s: string | undefined): number | null => {
  const t = (s ?? '').trim()
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : null
}

const rows = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.split(/\s*,\s*/))

export function parseGpuCsv(text: string): GpuSample[] {
  return rows(text)
    .filter((f) => f.length >= 6 && num(f[0]) !== null)
    .map((f) => ({index: num(f[0])!, uuid: f[1], util: num(f[2]), memUsedMiB: num(f[3]), memTotalMiB: num(f[4]), tempC: num(f[5])}))
}

export function parseAppsCsv(text: string): ComputeApp[] {
  return rows(text)
    .filter((f) => f.length >= 3 && num(f[0]) !== null)
    .map((f) => ({pid: num(f[0])!, gpuUuid: f[1], usedMiB: num(f[2])}))
}
