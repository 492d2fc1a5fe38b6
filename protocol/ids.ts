import { z } from 'zod';

/** Every id that appears in a topic: centre, room, device, gateway, infant, alert. */
export const ID_PATTERN = /^[a-z0-9-]{1,64}$/;

export const idSchema = z.string().regex(ID_PATTERN, 'ids are 1-64 characters of a-z, 0-9 and -');
export type Id = z.infer<typeof idSchema>;

export function isId(value: string): boolean {
  return ID_PATTERN.test(value);
}
