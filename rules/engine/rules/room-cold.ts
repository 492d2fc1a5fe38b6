import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, secondsField } from './fields.ts';

export default defineRule({
  id: 'room-cold',
  input: 'room',
  config: 'roomCold',
  thresholds: z
    .object({
      below: num.default(16),
      holdS: secondsField.default(300),
      clearAtOrAbove: num.default(16.5),
      clearS: secondsField.default(60),
    })
    .superRefine(ordered((t) => t.clearAtOrAbove >= t.below, 'clearAtOrAbove', 'must be >= below'))
    .prefault({}),
  judge: ({ reading }, t) => ({
    levels: [{ severity: 'warning', holdMs: seconds(t.holdS), active: reading.tempC < t.below }],
    clear: reading.tempC >= t.clearAtOrAbove,
    clearHoldMs: seconds(t.clearS),
    value: reading.tempC,
  }),
});
