import type { WearableReading } from '../../protocol/payloads.ts';
import type { Core } from './core.ts';
import { ms } from './core.ts';

/** A wearable's latest reading and its skin-temperature warm-up in progress (not journalled). */
export interface WearableLatest {
  reading: WearableReading;
  /** When the wearable was put on, and the settled readings seen so far. */
  wornSince?: number;
  baselineSum: number;
  baselineCount: number;
}

/**
 * A skin patch needs time to settle: the baseline is the mean of the warm-up's last window, fixed when the
 * warm-up ends (journalled per infant), and forgotten when the wearable comes off.
 */
export function trackBaseline(core: Core, infantId: string, center: string, entry: WearableLatest): void {
  const r = entry.reading;
  const { store } = core;
  if (!r.worn) {
    entry.wornSince = undefined;
    entry.baselineSum = 0;
    entry.baselineCount = 0;
    if (store.state.baselines[infantId] !== undefined) store.delete('baselines', infantId);
    return;
  }
  if (store.state.baselines[infantId] !== undefined) return;
  const t = core.thresholds(center).skinTemp;
  entry.wornSince ??= r.ts;
  const warm = entry.wornSince + ms(t.warmupS);
  if (r.ts < warm) {
    if (r.ts >= warm - ms(t.baselineWindowS)) {
      entry.baselineSum += r.skinTempC;
      entry.baselineCount++;
    }
    return;
  }
  if (entry.baselineCount > 0) store.set('baselines', infantId, entry.baselineSum / entry.baselineCount);
}
