import { z } from 'zod';
import { defineRule, seconds } from '../rule.ts';
import { num, ordered, positiveSeconds, secondsField } from './fields.ts';

/** The warm-up and baseline numbers are read by the core's baseline tracker (`engine/baseline.ts`) too. */
export const skinTempThresholds = z
  .object({
    warmupS: positiveSeconds.default(900),
    /** The baseline is the mean of the last part of the warm-up, once the patch has settled. */
    baselineWindowS: positiveSeconds.default(300),
    riseC: num.positive().default(1.0),
    absoluteC: num.default(38.0),
    hysteresisC: num.min(0).default(0.2),
    holdS: secondsField.default(300),
    clearS: secondsField.default(600),
  })
  .superRefine(ordered((t) => t.baselineWindowS <= t.warmupS, 'baselineWindowS', 'must not exceed warmupS'))
  .prefault({});

export default defineRule({
  id: 'skin-temp-rise',
  input: 'wearable',
  config: 'skinTemp',
  thresholds: skinTempThresholds,
  judge: ({ reading: r, baseline }, st) => {
    const hot =
      baseline !== undefined && r.worn && (r.skinTempC - baseline >= st.riseC || r.skinTempC >= st.absoluteC);
    const back =
      baseline === undefined ||
      !r.worn ||
      (r.skinTempC - baseline < st.riseC - st.hysteresisC && r.skinTempC < st.absoluteC - st.hysteresisC);
    return {
      levels: [{ severity: 'warning', holdMs: seconds(st.holdS), active: hot }],
      clear: back,
      clearHoldMs: seconds(st.clearS),
      value: r.skinTempC,
    };
  },
});
