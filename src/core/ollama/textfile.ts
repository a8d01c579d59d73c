/**
 * Who owns an Ollama textfile (`ollama metrics --file`, `ollama frozen-check
 * --metrics-file`). Line 1 of every file medic writes is its header: the writing command
 * and the writer's identity (pid and start time). A file without it is not medic's and is
 * never replaced; a file of the other command is that command's (the two never share a
 * file: each rewrites the whole file, so the second would clobber the first's series); a
 * file whose writer is still running is that writer's for as long as it runs (two loops,
 * or a cron pass beside a --watch loop, on one file): the header is the lock, held for
 * the loop's life, and names its holder. A writer that is gone (or whose pid was reused)
 * holds nothing. Pure: the caller says whether the named writer still runs.
 */

export type TextfileCollector = 'metrics' | 'frozen-check'

export interface TextfileWriter {
  collector: TextfileCollector
  pid: number
  startTime: string
}

/** The header line (a Prometheus comment: promtool and node_exporter ignore it). */
export function textfileHeader(w: TextfileWriter): string {
  return `# medic ollama ${w.collector} textfile, written by pid ${w.pid} (start ${w.startTime}); rewritten every pass: do not edit`
}

const HEADER = /^# medic ollama (metrics|frozen-check) textfile, written by pid (\d+) \(start (\d+)\); /

export function parseTextfileHeader(line: string): TextfileWriter | null {
  const m = HEADER.exec(line)
  return m ? {collector: m[1] as TextfileCollector, pid: Number(m[2]), startTime: m[3]} : null
}

export type TextfileJudgement =
  | {kind: 'write'}
  | {kind: 'refuse'; why: string}
  /** Another writer of this command: refuse while it runs, take the file over once it is gone. */
  | {kind: 'held'; holder: TextfileWriter; why: string}

/** `firstLine`: line 1 of what is at the path now; null when nothing is there. */
export function judgeTextfile(firstLine: string | null, me: TextfileWriter): TextfileJudgement {
  if (firstLine === null) return {kind: 'write'}
  const h = parseTextfileHeader(firstLine)
  if (!h) return {kind: 'refuse', why: "not written by medic (line 1 is not medic's header)"}
  if (h.collector !== me.collector) return {kind: 'refuse', why: `medic ollama ${h.collector}'s textfile: give each command its own file (one would clobber the other's series)`}
  if (h.pid === me.pid && h.startTime === me.startTime) return {kind: 'write'}
  return {kind: 'held', holder: h, why: `held by medic pid ${h.pid} (ollama ${h.collector}), still running: one writer per file`}
}
