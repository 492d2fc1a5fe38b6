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
}

/**
 * The root logger of a process. Components take a child (`logger.child({ component: 'ingest' })`) so every
 * line says where it came from; JSON off a TTY, pino-pretty on one.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CW_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.CW_LOG_FORMAT !== 'json');
  return pino({
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
}

/** For tests and library use: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
