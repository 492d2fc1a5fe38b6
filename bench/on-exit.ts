/**
 * What is still to undo when the bench process ends, however it ends: a bench that dies of an error it did
 * not expect (seen: an MQTT client's unhandled CONNACK timeout at 30,000 offered) left four services and an
 * influxd running, loading every later run. Undone last-registered first (processes before their directory).
 */
const cleanups = new Set<() => void>();
process.on('exit', () => {
  for (const cleanup of [...cleanups].reverse()) cleanup();
});

/** Registers `cleanup` for the process's exit; the returned function forgets it once it is done anyway. */
export function onExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
