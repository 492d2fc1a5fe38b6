import type { Logger } from './logger.ts';

/**
 * Runs `close` once on SIGTERM or SIGINT and exits 0 when it finishes, 1 if it throws or overruns
 * `graceMs`. A second SIGINT (Ctrl-C twice) exits at once.
 */
export function exitOnSignals(close: () => Promise<void>, log: Logger, graceMs = 10_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      if (signal === 'SIGINT') {
        log.warn('second interrupt: exiting now');
        process.exit(130);
      }
      return;
    }
    closing = true;
    log.info({ signal }, 'shutting down');
    // Not unref'd: a close that awaits something nothing will ever settle empties the event loop, and Node
    // would then exit 0 as if shutdown had finished. The timer keeps the process alive to report it.
    setTimeout(() => {
      log.error({ graceMs }, 'shutdown overran its grace period; exiting');
      process.exit(1);
    }, graceMs);
    close().then(
      () => {
        log.info('stopped');
        // Let pino's async destination flush before exit.
        setTimeout(() => process.exit(0), 50);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
