import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, secondsField } from './fields.ts';

export default defineRule({
  id: 'humidity',
  input: 'room',
  config: 'humidity',
  thresholds: z
    .object({
      min: num.default(30),
      max: num.default(60),
      /** Back inside means inside [min + h, max - h]. */
      hysteresis: num.min(0).default(1),
      holdS: secondsField.default(600),
      clearS: secondsField.default(300),
    })
    .superRefine(
      ordered(
        (t) => t.min + t.hysteresis < t.max - t.hysteresis,
        'max',
        'must be above min with room for the hysteresis band',
      ),
    )
    .prefault({}),
  judge: ({ reading }, h) => {
    const rh = reading.humidity;
    return {
      levels: [{ severity: 'info', holdMs: seconds(h.holdS), active: rh < h.min || rh > h.max }],
      clear: rh >= h.min + h.hysteresis && rh <= h.max - h.hysteresis,
      clearHoldMs: seconds(h.clearS),
      value: rh,
    };
  },
});
