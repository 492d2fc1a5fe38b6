import { z } from 'zod';
import { defineRule } from '../rule.ts';
import { num, ordered } from './fields.ts';

export default defineRule({
  id: 'low-battery',
  input: 'battery',
  config: 'lowBattery',
  thresholds: z
    .object({ below: num.default(15), clearAtOrAbove: num.default(20) })
    .superRefine(ordered((t) => t.clearAtOrAbove >= t.below, 'clearAtOrAbove', 'must be >= below'))
    .prefault({}),
  judge: ({ battery }, t) => ({
    levels: [{ severity: 'info', holdMs: 0, active: battery < t.below }],
    clear: battery >= t.clearAtOrAbove,
    clearHoldMs: 0,
    value: battery,
  }),
});
