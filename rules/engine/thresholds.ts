import { z } from 'zod';
import { deepMerge } from '../../protocol/config.ts';
import { describeZodError } from '../../protocol/reasons.ts';

const seconds = z.coerce.number().min(0);
const positiveSeconds = z.coerce.number().positive();
const num = z.coerce.number();

/**
 * Every number of DESIGN.md's rules table, in seconds, °C, % and months. The defaults are the design's;
 * a centre may override any of them (config `rules.centers.<id>`), and each set is validated on its own so
 * an override cannot put a clear threshold on the wrong side of its fire threshold.
 */
export const thresholdsSchema = z
  .object({
    prone: z
      .object({ holdS: seconds.default(30), clearS: seconds.default(5), underMonths: num.default(12) })
      .prefault({}),
    noMovement: z
      .object({
        below: num.default(0.02),
        /**
         * Movement clearly above breathing clears the alert: a still, breathing infant moves the sensor 0.03–0.06
         * (the simulator's sleeping band, device-sim/model.ts), a sleeping twitch 0.15–0.35. At the old 0.05
         * breathing alone cleared a real stillness alert, which then re-fired every 25 s for the whole nap.
         */
        clearAtOrAbove: num.default(0.15),
        holdS: seconds.default(20),
        clearS: seconds.default(5),
      })
      .prefault({}),
    side: z
      .object({ holdS: seconds.default(60), clearS: seconds.default(5), underMonths: num.default(6) })
      .prefault({}),
    roomHot: z
      .object({
        warnAbove: num.default(24),
        warnHoldS: seconds.default(300),
        criticalAbove: num.default(28),
        criticalHoldS: seconds.default(60),
        clearAtOrBelow: num.default(23.5),
        clearS: seconds.default(60),
      })
      .prefault({}),
    roomCold: z
      .object({
        below: num.default(16),
        holdS: seconds.default(300),
        clearAtOrAbove: num.default(16.5),
        clearS: seconds.default(60),
      })
      .prefault({}),
    humidity: z
      .object({
        min: num.default(30),
        max: num.default(60),
        /** Back inside means inside [min + h, max - h]. */
        hysteresis: num.min(0).default(1),
        holdS: seconds.default(600),
        clearS: seconds.default(300),
      })
      .prefault({}),
    skinTemp: z
      .object({
        warmupS: positiveSeconds.default(900),
        /** The baseline is the mean of the last part of the warm-up, once the patch has settled. */
        baselineWindowS: positiveSeconds.default(300),
        riseC: num.positive().default(1.0),
        absoluteC: num.default(38.0),
        hysteresisC: num.min(0).default(0.2),
        holdS: seconds.default(300),
        clearS: seconds.default(600),
      })
      .prefault({}),
    wearableOff: z.object({ holdS: seconds.default(30), stillBelow: num.default(0.02) }).prefault({}),
    monitoringLost: z
      .object({ silenceS: positiveSeconds.default(30), resumeS: seconds.default(10) })
      .prefault({}),
    lowBattery: z.object({ below: num.default(15), clearAtOrAbove: num.default(20) }).prefault({}),
    lifecycle: z
      .object({
        /** Reminder interval while unacknowledged; 0 switches reminders off for that severity. */
        reminderS: z
          .object({ critical: seconds.default(30), warning: seconds.default(300), info: seconds.default(0) })
          .prefault({}),
        /** Escalation to supervisors while unacknowledged; 0 never escalates. */
        escalateS: z
          .object({ critical: seconds.default(60), warning: seconds.default(300), info: seconds.default(0) })
          .prefault({}),
        warningToCriticalS: seconds.default(900),
      })
      .prefault({}),
    /** Nap-check cadence in minutes by age. */
    napCheck: z
      .object({
        underOneMin: positiveSeconds.default(5),
        oneYearMin: positiveSeconds.default(10),
        twoPlusMin: positiveSeconds.default(15),
      })
      .prefault({}),
  })
  .superRefine((t, ctx) => {
    const order = (ok: boolean, path: string[], message: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path, message });
    };
    order(
      t.noMovement.clearAtOrAbove >= t.noMovement.below,
      ['noMovement', 'clearAtOrAbove'],
      'must be >= below',
    );
    order(
      t.roomHot.clearAtOrBelow <= t.roomHot.warnAbove,
      ['roomHot', 'clearAtOrBelow'],
      'must be <= warnAbove',
    );
    order(
      t.roomHot.criticalAbove >= t.roomHot.warnAbove,
      ['roomHot', 'criticalAbove'],
      'must be >= warnAbove',
    );
    order(t.roomCold.clearAtOrAbove >= t.roomCold.below, ['roomCold', 'clearAtOrAbove'], 'must be >= below');
    order(
      t.humidity.min + t.humidity.hysteresis < t.humidity.max - t.humidity.hysteresis,
      ['humidity', 'max'],
      'must be above min with room for the hysteresis band',
    );
    order(
      t.lowBattery.clearAtOrAbove >= t.lowBattery.below,
      ['lowBattery', 'clearAtOrAbove'],
      'must be >= below',
    );
    order(
      t.skinTemp.baselineWindowS <= t.skinTemp.warmupS,
      ['skinTemp', 'baselineWindowS'],
      'must not exceed warmupS',
    );
  });
export type Thresholds = z.infer<typeof thresholdsSchema>;

/** `rules` in the service config: defaults for every centre, and per-centre overrides of any field. */
export const rulesConfigSchema = z
  .object({
    defaults: z.record(z.string(), z.unknown()).default({}),
    centers: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  })
  .prefault({})
  .transform((raw, ctx) => {
    const parse = (value: Record<string, unknown>, path: (string | number)[]) => {
      const result = thresholdsSchema.safeParse(value);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        ctx.addIssue({ code: 'custom', path: [...path, ...issue.path.map(String)], message: issue.message });
      }
      return undefined;
    };
    const defaults = parse(raw.defaults, ['defaults']);
    const centers = new Map<string, Thresholds>();
    for (const [center, override] of Object.entries(raw.centers)) {
      const parsed = parse(deepMerge(raw.defaults, override), ['centers', center]);
      if (parsed) centers.set(center, parsed);
    }
    if (!defaults) return z.NEVER;
    return { defaults, centers };
  });
export type RulesConfig = z.infer<typeof rulesConfigSchema>;

/** For tests and callers outside the config loader: defaults merged with `override`, refused loudly when bad. */
export function thresholds(override: Record<string, unknown> = {}): Thresholds {
  const result = thresholdsSchema.safeParse(override);
  if (!result.success) throw new RangeError(`invalid rule thresholds: ${describeZodError(result.error)}`);
  return result.data;
}
