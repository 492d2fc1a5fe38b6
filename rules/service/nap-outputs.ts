import { Point, type WriteApi } from '@influxdata/influxdb-client';
import type { MqttClient } from 'mqtt';
import { topics } from '../../protocol/topics.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { createWriteApi } from '../../lib/influx/writer.ts';
import type { BoardEvent, NapCheckRecord } from '../contracts.ts';
import type { NapChange } from '../engine/engine.ts';

/**
 * Where the engine's nap changes and nap checks go: a schedule's nap published (retained) on the room's nap
 * topic, InfluxDB `nap_session` and `nap_check` points, and an event for the caregiver page.
 */
export class NapOutputs {
  readonly #mqtt: MqttClient;
  readonly #writer: WriteApi | undefined;
  readonly #boardListeners: Set<(e: BoardEvent) => void>;

  constructor(
    mqtt: MqttClient,
    influx: InfluxConnection | undefined,
    boardListeners: Set<(e: BoardEvent) => void>,
  ) {
    this.#mqtt = mqtt;
    this.#writer = influx ? createWriteApi(influx, { flushInterval: 1_000, maxRetries: 5 }) : undefined;
    this.#boardListeners = boardListeners;
  }

  nap(nap: NapChange): void {
    if (nap.source === 'schedule') this.#publish(nap);
    this.#writer?.writePoint(
      new Point('nap_session')
        .tag('center', nap.center)
        .tag('room', nap.room)
        .stringField('state', nap.state)
        .stringField('by', nap.by)
        .timestamp(nap.at),
    );
    for (const listener of this.#boardListeners) listener({ type: 'board', center: nap.center });
  }

  check(record: NapCheckRecord): void {
    this.#write(record);
    for (const listener of this.#boardListeners) listener({ type: 'nap-check', record });
  }

  /** Flushes the points not yet written. */
  async close(): Promise<void> {
    await this.#writer?.close();
  }

  #publish(nap: NapChange): void {
    this.#mqtt.publish(
      topics.nap(nap.center, nap.room),
      JSON.stringify({ v: 1, ts: nap.at, state: nap.state, by: nap.by }),
      { qos: 1, retain: true },
    );
  }

  #write(record: NapCheckRecord): void {
    if (!this.#writer) return;
    const point = new Point('nap_check')
      .tag('center', record.center)
      .tag('room', record.room)
      .tag('infant', record.infant)
      .intField('open_alerts', record.openAlerts)
      .timestamp(record.at);
    if (record.posture) point.stringField('posture', record.posture);
    if (record.motion !== undefined) point.floatField('motion', record.motion);
    if (record.skinTempC !== undefined) point.floatField('skin_temp', record.skinTempC);
    if (record.confirmedBy) point.stringField('confirmed_by', record.confirmedBy);
    this.#writer.writePoint(point);
  }
}
