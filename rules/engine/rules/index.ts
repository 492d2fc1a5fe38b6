import co2High from './co2-high.ts';
import humidity from './humidity.ts';
import lowBattery from './low-battery.ts';
import noMovement from './no-movement.ts';
import proneSleep from './prone-sleep.ts';
import roomCold from './room-cold.ts';
import roomHot from './room-hot.ts';
import sideSleep from './side-sleep.ts';
import skinTempRise from './skin-temp-rise.ts';
import wearableOff from './wearable-off.ts';

/**
 * The condition rules, in the order they are judged (and their transitions emitted) for one input. The
 * one-key alarm and monitoring lost are not conditions of a reading: they live in the core
 * (`engine/alarm.ts`, `engine/monitoring.ts`).
 */
export const RULES = [
  proneSleep,
  noMovement,
  sideSleep,
  wearableOff,
  skinTempRise,
  roomHot,
  roomCold,
  humidity,
  co2High,
  lowBattery,
] as const;
