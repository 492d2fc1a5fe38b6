import { z } from 'zod';

/** Threshold field types shared by the rules' config sections (seconds, numbers). */
export const secondsField = z.coerce.number().min(0);
export const positiveSeconds = z.coerce.number().positive();
export const num = z.coerce.number();

/** A cross-field check of one config section, reported on the field that is on the wrong side. */
export function ordered<T>(
  check: (t: T) => boolean,
  field: string,
  message: string,
): (t: T, ctx: z.RefinementCtx) => void {
  return (t, ctx) => {
    if (!check(t)) ctx.addIssue({ code: 'custom', path: [field], message });
  };
}
