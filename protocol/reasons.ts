import { z } from 'zod';

/**
 * Machine-readable reasons a message is refused. Dead-letter records, metrics labels and tests all use
 * these strings, so they are part of the wire contract: add, never rename.
 */
export const REASONS = [
  'not-json',
  'bad-utf8',
  'too-large',
  'schema',
  'clock-skew',
  'bad-topic',
  'unknown-device',
  'topic-mismatch',
  'empty-batch',
  'batch-too-large',
  'duplicate',
  'influx-rejected',
] as const;

export const reasonSchema = z.enum(REASONS);
export type Reason = z.infer<typeof reasonSchema>;

export interface Refusal {
  ok: false;
  reason: Reason;
  /** Human-readable detail: the first failing field path and what was expected. */
  detail: string;
}

export interface Accepted<T> {
  ok: true;
  value: T;
}

export type ParseResult<T> = Accepted<T> | Refusal;

export function refuse(reason: Reason, detail: string): Refusal {
  return { ok: false, reason, detail };
}

/** One line naming the first failing field, e.g. `batch.3.skinTempC: Too big: expected number to be <=45`. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : '';
  return `${path}: ${issue.message}${more}`;
}
