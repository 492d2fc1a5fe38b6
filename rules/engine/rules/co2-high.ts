import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, secondsField } from './fields.ts';

/**
 * CO₂ too high during a nap: a closed nap room fills with the infants' breath. 1,500 ppm is where
 * ventilation guidance for classrooms asks for airing; it clears at 1,400 (hysteresis), or when the nap ends.
 */
export default defineRule({
  id: 'co2-high',
  input: 'room',
  config: 'co2',
  thresholds: z
    .object({
      abovePpm: num.default(1500),
      clearAtOrBelowPpm: num.default(1400),
      holdS: secondsField.default(60),
      clearS: secondsField.default(60),
    })
    .superRefine(
      ordered((t) => t.clearAtOrBelowPpm <= t.abovePpm, 'clearAtOrBelowPpm', 'must be <= abovePpm'),
    )
    .prefault({}),
  judge: ({ reading, napping }, t) => {
    const ppm = reading.co2ppm;
    return {
      levels: [
        {
          severity: 'warning',
          holdMs: seconds(t.holdS),
          active: napping && ppm !== undefined && ppm > t.abovePpm,
        },
      ],
      clear: !napping || ppm === undefined || ppm <= t.clearAtOrBelowPpm,
      clearHoldMs: seconds(t.clearS),
      ...(ppm !== undefined ? { value: ppm } : {}),
    };
  },
});
