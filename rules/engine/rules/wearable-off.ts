import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, secondsField } from './fields.ts';

export default defineRule({
  id: 'wearable-off',
  input: 'wearable',
  config: 'wearableOff',
  thresholds: z.object({ holdS: secondsField.default(30), stillBelow: num.default(0.02) }).prefault({}),
  judge: ({ reading }, t) => {
    const off = !reading.worn || (reading.posture === 'unknown' && reading.motion < t.stillBelow);
    return {
      levels: [{ severity: 'warning', holdMs: seconds(t.holdS), active: off }],
      clear: !off,
      clearHoldMs: 0,
    };
  },
});
