import type { AlertService, AlertTransition, CommandResult } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import type { Engine, EngineOutput } from '../engine/engine.ts';
import type { Journal } from '../journal/journal.ts';
import type { EngineLoop } from './engine-loop.ts';

export interface AlertServiceDeps {
  engine: Engine;
  /** Holds the recent transitions: resolved alerts and SSE resumption are served from it. */
  journal: Journal;
  loop: EngineLoop;
  now: () => number;
  listeners: Set<(t: AlertTransition) => void>;
}

/** The alerts of this process's engine, for the HTTP API, the SSE stream and MQTT acknowledgements. */
export function createAlertService(deps: AlertServiceDeps): AlertService {
  const { engine, journal, loop, now, listeners } = deps;
  const command = (run: () => { result: CommandResult; output: EngineOutput }): CommandResult => {
    const { result, output } = run();
    loop.step(output);
    return result;
  };
  return {
    list(filter = {}) {
      const open = engine.openAlerts().filter((a) => !filter.center || a.center === filter.center);
      if (!filter.includeResolved) return open;
      const resolved = new Map<string, Alert>();
      for (const t of journal.recent()) {
        if (t.kind === 'resolved' && (!filter.center || t.alert.center === filter.center))
          resolved.set(t.alert.id, t.alert);
      }
      return [...open, ...resolved.values()];
    },
    get: (id) => engine.getAlert(id) ?? journal.recent().findLast((t) => t.alert.id === id)?.alert,
    acknowledge: (id, by, at = now()) => command(() => engine.acknowledge(id, by, at)),
    resolve: (id, by, at = now()) => command(() => engine.resolve(id, by, at)),
    transitionsSince: (afterSeq, center) =>
      journal.recent().filter((t) => t.seq > afterSeq && (!center || t.alert.center === center)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
