import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, secondsField } from './fields.ts';

export default defineRule({
  id: 'room-hot',
  input: 'room',
  config: 'roomHot',
  thresholds: z
    .object({
      warnAbove: num.default(24),
      warnHoldS: secondsField.default(300),
      criticalAbove: num.default(28),
      criticalHoldS: secondsField.default(60),
      clearAtOrBelow: num.default(23.5),
      clearS: secondsField.default(60),
    })
    .superRefine(ordered((t) => t.clearAtOrBelow <= t.warnAbove, 'clearAtOrBelow', 'must be <= warnAbove'))
    .superRefine(ordered((t) => t.criticalAbove >= t.warnAbove, 'criticalAbove', 'must be >= warnAbove'))
    .prefault({}),
  judge: ({ reading }, t) => ({
    levels: [
      { severity: 'warning', holdMs: seconds(t.warnHoldS), active: reading.tempC > t.warnAbove },
      { severity: 'critical', holdMs: seconds(t.criticalHoldS), active: reading.tempC > t.criticalAbove },
    ],
    clear: reading.tempC <= t.clearAtOrBelow,
    clearHoldMs: seconds(t.clearS),
    value: reading.tempC,
  }),
});
