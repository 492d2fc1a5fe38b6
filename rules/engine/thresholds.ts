import { z } from 'zod';
import { deepMerge } from '../../protocol/config.ts';
import { describeZodError } from '../../protocol/reasons.ts';
import { RULES } from './rules/index.ts';
import { positiveSeconds, secondsField } from './rules/fields.ts';

/** The core's own numbers: silence, the alert lifecycle and the nap-check cadence. */
const coreShape = {
  monitoringLost: z
    .object({
      silenceS: positiveSeconds.default(30),
      resumeS: secondsField.default(10),
      /**
       * Input lag (a reading's arrival after its placed time) past which the centre's monitoring is degraded:
       * one alert to supervisors, "data delayed" on the board; back under half of it, it resolves.
       */
      degradedLagS: positiveSeconds.default(10),
      /**
       * Silent wearables of a centre are gathered this long and judged together (one alert per cause):
       * behind one gateway they fall silent within a reading interval of each other.
       */
      groupGatherS: secondsField.default(2),
    })
    .prefault({}),
  lifecycle: z
    .object({
      /** Reminder interval while unacknowledged; 0 switches reminders off for that severity. */
      reminderS: z
        .object({
          critical: secondsField.default(30),
          warning: secondsField.default(300),
          info: secondsField.default(0),
        })
        .prefault({}),
      /** Escalation to supervisors while unacknowledged; 0 never escalates. */
      escalateS: z
        .object({
          critical: secondsField.default(60),
          warning: secondsField.default(300),
          info: secondsField.default(0),
        })
        .prefault({}),
      warningToCriticalS: secondsField.default(900),
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
};

type Rule = (typeof RULES)[number];
type RuleShape = { [R in Rule as R['config']]: R['thresholds'] };

/**
 * Every number of the rules table, in seconds, °C, % and months: the core's sections and one section per
 * rule of the registry (`rules/<rule>.ts` declares its own, defaults and cross-field checks included). A
 * centre may override any of them (config `rules.centers.<id>`), and each set is validated on its own so an
 * override cannot put a clear threshold on the wrong side of its fire threshold.
 */
export const thresholdsSchema = z.object({
  ...coreShape,
  ...(Object.fromEntries(RULES.map((rule) => [rule.config, rule.thresholds])) as RuleShape),
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
