import {writeSync} from 'node:fs'

/**
 * Writes to fd 1 or 2 at once, without building process.stdout / process.stderr: for a
 * pipe (cron, Docker) or a socket (journald) that stream costs ~1.2 ms to build, for one
 * verdict line (docs/startup.md). A full non-blocking pipe (EAGAIN) hands the rest to the
 * stream, which waits for room; a reader that is gone (EPIPE) is told nothing.
 */
export function writeFd(fd: 1 | 2, text: string): void {
  let buf = Buffer.from(text)
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf))
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EINTR') continue
      if (code === 'EAGAIN') {
        ;(fd === 1 ? process.stdout : process.stderr).write(buf)
        return
      }
      if (code === 'EPIPE') return
      throw e
    }
  }
}
