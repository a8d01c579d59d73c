/** SIGTERM or SIGINT → `stop` (once each time); returns the unsubscribe. For long-running loops. */
export function onStopSignals(stop: () => void): () => void {
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  return () => {
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
  }
}
