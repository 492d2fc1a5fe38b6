import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, secondsField } from './fields.ts';

export default defineRule({
  id: 'no-movement',
  input: 'wearable',
  config: 'noMovement',
  sleep: true,
  thresholds: z
    .object({
      below: num.default(0.02),
      /**
       * Movement clearly above breathing clears the alert: a still, breathing infant moves the sensor 0.03–0.06
       * (the simulator's sleeping band, device-sim/model.ts), a sleeping twitch 0.15–0.35. At the old 0.05
       * breathing alone cleared a real stillness alert, which then re-fired every 25 s for the whole nap.
       */
      clearAtOrAbove: num.default(0.15),
      holdS: secondsField.default(20),
      clearS: secondsField.default(5),
    })
    .superRefine(ordered((t) => t.clearAtOrAbove >= t.below, 'clearAtOrAbove', 'must be >= below'))
    .prefault({}),
  judge: ({ reading, napping }, t) => ({
    levels: [
      {
        severity: 'critical',
        holdMs: seconds(t.holdS),
        active: napping && reading.worn && reading.motion < t.below,
      },
    ],
    clear: !reading.worn || reading.motion >= t.clearAtOrAbove,
    clearHoldMs: seconds(t.clearS),
  }),
});
