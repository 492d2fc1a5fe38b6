import { z } from 'zod';

/** Every id that appears in a topic: centre, room, device, gateway, infant, alert. */
export const ID_PATTERN = /^[a-z0-9-]{1,64}$/;

export const idSchema = z.string().regex(ID_PATTERN, 'ids are 1-64 characters of a-z, 0-9 and -');
export type Id = z.infer<typeof idSchema>;

export function isId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/**
 * Dead-letter topics (`cw/v1/deadletter/{center}/{device}`) use the centre level of the layout, so a centre
 * called `deadletter` would make its topics ambiguous: `cw/v1/deadletter/alerts/x` could be either.
 */
export const RESERVED_CENTER_IDS: readonly string[] = ['deadletter'];

export const centerIdSchema = idSchema.refine((id) => !RESERVED_CENTER_IDS.includes(id), {
  message: 'deadletter is reserved for dead-letter topics and cannot name a centre',
});

export function isCenterId(value: string): boolean {
  return isId(value) && !RESERVED_CENTER_IDS.includes(value);
}
