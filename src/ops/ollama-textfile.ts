import {judgeTextfile, textfileHeader, type TextfileCollector, type TextfileWriter} from '../core/ollama/textfile.js'
import {writeOwned} from '../sys/file-gate.js'
import type {ProcessTable} from '../sys/proc-table.js'

export interface TextfileDeps {
  procs: Pick<ProcessTable, 'stat' | 'liveness'>
  selfPid: number
}

/**
 * Writes an Ollama textfile through the file gate: medic's header on line 1 (this command,
 * this process), then the exposition; only over medic's own file of this command whose
 * writer is this process or gone (core/ollama/textfile.ts). Throws FileError naming the
 * path and why it was left alone.
 */
export function writeOllamaTextfile(path: string, exposition: string, collector: TextfileCollector, deps: TextfileDeps): void {
  const me: TextfileWriter = {collector, pid: deps.selfPid, startTime: deps.procs.stat(deps.selfPid)?.startTime ?? '0'}
  writeOwned(path, `${textfileHeader(me)}\n${exposition}`, 0o644, (text) => {
    const j = judgeTextfile(text === null ? null : text.split('\n', 1)[0], me)
    if (j.kind === 'write') return null
    if (j.kind === 'refuse') return `${j.why}: left alone`
    return deps.procs.liveness(j.holder.pid, j.holder.startTime) === 'alive' ? `${j.why}: left alone` : null
  })
}
