import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, secondsField } from './fields.ts';

export default defineRule({
  id: 'side-sleep',
  input: 'wearable',
  config: 'side',
  sleep: true,
  thresholds: z
    .object({ holdS: secondsField.default(60), clearS: secondsField.default(5), underMonths: num.default(6) })
    .prefault({}),
  judge: ({ reading, napping, ageMonths }, t) => ({
    levels: [
      {
        severity: 'warning',
        holdMs: seconds(t.holdS),
        active: napping && ageMonths < t.underMonths && reading.posture === 'side',
      },
    ],
    clear: reading.posture !== 'side',
    clearHoldMs: seconds(t.clearS),
  }),
});
