import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths pino blanks in every log line, wherever a config or request object is logged whole. */
export const REDACT_PATHS = [
  'password',
  'token',
  '*.password',
  '*.token',
  '*.*.password',
  '*.*.token',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'passwordHash',
  '*.passwordHash',
];

export interface LoggerOptions {
  level?: string;
  /** Pretty, human-oriented lines; defaults to whether stdout is a TTY. */
  pretty?: boolean;
  name?: string;
  /** The service this process runs (`service` on every line); `cradlewatch up` sets it per service instead. */
  service?: string;
}

/**
 * The root logger of a process; JSON off a TTY, pino-pretty on one. Every line says where it came from in
 * two keys, each set once: `service` (here, or `forService` under `cradlewatch up`) and `component`
 * (`componentLogger`). pino writes a key bound twice twice, and a JSON reader keeps only the last.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CW_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.CW_LOG_FORMAT !== 'json');
  const root = pino({
    name: options.name ?? 'cradlewatch',
    level,
    redact: { paths: REDACT_PATHS, censor: '***' },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' },
          },
        }
      : {}),
  });
  return options.service ? forService(root, options.service) : root;
}

/** The logger of one service among several in a process (`cradlewatch up`). */
export function forService(log: Logger, service: string): Logger {
  if (log.bindings().service !== undefined)
    throw new Error(`this logger already belongs to service ${log.bindings().service}`);
  return log.child({ service });
}

/** A component's logger, taken from its service's: components do not nest, so no line names two. */
export function componentLogger(log: Logger, component: string): Logger {
  const parent = log.bindings().component;
  if (parent !== undefined)
    throw new Error(
      `component ${component} is taken under component ${parent}: take it from the service's logger`,
    );
  return log.child({ component });
}

/** For tests and library use: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
