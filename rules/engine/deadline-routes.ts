import type { Alerts } from './alerts.ts';
import type { Conditions } from './conditions.ts';
import type { DeadlineKind } from './deadlines.ts';
import type { Monitoring } from './monitoring.ts';
import type { Naps } from './naps.ts';

/** When a deadline of one kind falls due (none: it is gone), and what its firing does. */
interface Route {
  due(id: string): number | undefined;
  fire(id: string, at: number): void;
}

/** Which part of the engine keeps each kind of deadline. */
export function deadlineRoutes(parts: {
  conditions: Conditions;
  alerts: Alerts;
  monitoring: Monitoring;
  naps: Naps;
}): Record<DeadlineKind, Route> {
  const { conditions, alerts, monitoring, naps } = parts;
  return {
    condition: { due: (id) => conditions.due(id)?.at, fire: (id) => conditions.fire(id) },
    alert: { due: (id) => alerts.due(id)?.at, fire: (id) => alerts.fire(id) },
    silence: { due: (id) => monitoring.silenceDue(id), fire: (id, at) => monitoring.fireSilence(id, at) },
    'source-silence': {
      due: (id) => monitoring.sourceSilentDue(id),
      fire: (id) => monitoring.fireSourceSilent(id),
    },
    'silent-group': {
      due: (id) => monitoring.groups.due(id),
      fire: (id, at) => monitoring.groups.fire(id, at),
    },
    schedule: { due: (id) => naps.scheduleDue(id), fire: (id, at) => naps.fireSchedule(id, at) },
    check: { due: (id) => naps.checkDue(id), fire: (id, at) => naps.fireChecks(id, at) },
  };
}
