import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, secondsField } from './fields.ts';

export default defineRule({
  id: 'prone-sleep',
  input: 'wearable',
  config: 'prone',
  sleep: true,
  thresholds: z
    .object({
      holdS: secondsField.default(30),
      clearS: secondsField.default(5),
      underMonths: num.default(12),
    })
    .prefault({}),
  judge: ({ reading, infant, napping, ageMonths }, t) => ({
    levels: [
      {
        severity: infant.rollsBothWays ? 'warning' : 'critical',
        holdMs: seconds(t.holdS),
        active: napping && ageMonths < t.underMonths && reading.posture === 'prone',
      },
    ],
    clear: reading.posture !== 'prone',
    clearHoldMs: seconds(t.clearS),
  }),
});
