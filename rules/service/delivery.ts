import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import type { Logger } from '../../lib/logger.ts';
import { createChannels } from '../channels/index.ts';
import type { RulesServiceConfig } from '../config.ts';
import type { BoardEvent } from '../contracts.ts';
import type { DiskGuard } from '../journal/guard.ts';
import type { Journal } from '../journal/journal.ts';

export interface DeliveryDeps {
  mqtt: MqttClient;
  fleet: () => FleetIndex;
  journal: Journal;
  disk: DiskGuard;
  /** AlertService subscribers (the SSE streams). */
  transitionListeners: Set<(t: AlertTransition) => void>;
  /** BoardService subscribers: a transition changes its centre's board. */
  boardListeners: Set<(e: BoardEvent) => void>;
  log: Logger;
}

/**
 * Hands journalled transitions to the channels (retained MQTT, webhooks, InfluxDB history) and the
 * listeners, and journals the delivery watermark once the channels hold them.
 */
export class Delivery {
  readonly #channels: AlertChannel[];
  readonly #deps: DeliveryDeps;
  /** Highest seq handed to the channels; the journal's watermark follows once they have settled. */
  #handed = 0;
  #journalOpen = true;

  constructor(config: RulesServiceConfig, deps: DeliveryDeps) {
    this.#deps = deps;
    this.#channels = createChannels(config.channels, {
      mqtt: deps.mqtt,
      ...(config.influx ? { influx: config.influx } : {}),
      fleet: deps.fleet,
      log: deps.log,
      // Beside the journal: a partition that moves with its journal volume takes its undelivered alerts
      // along.
      outboxDir: join(config.journalDir, 'outbox'),
      diskGuard: deps.disk,
    });
  }

  deliver(transitions: AlertTransition[]): void {
    if (transitions.length === 0) return;
    const { transitionListeners, boardListeners, journal } = this.#deps;
    for (const transition of transitions) {
      this.#each(this.#channels, (channel) => channel.deliver(transition));
      this.#each(transitionListeners, (listener) => listener(transition));
      this.#each(boardListeners, (listener) => listener({ type: 'board', center: transition.alert.center }));
    }
    const seq = transitions.at(-1)!.seq;
    this.#handed = seq;
    // mqtt.js holds a publish the broker has not acknowledged in memory only: marked delivered before the
    // PUBACK, a kill -9 lost it for good (front ends kept alerts open whose resolution never came).
    void Promise.all(this.#channels.map((c) => c.settled?.())).then(() => {
      if (this.#journalOpen) journal.markDelivered(seq);
    });
  }

  async closeChannels(): Promise<void> {
    await Promise.all(this.#channels.map((c) => c.close()));
  }

  /** After the channels closed: what they took is with their peers, or never will be. */
  markAllDelivered(): void {
    this.#deps.journal.markDelivered(this.#handed);
    this.#journalOpen = false;
  }

  /** After the channels closed on a start that failed: the journal closes with no watermark of theirs. */
  detachJournal(): void {
    this.#journalOpen = false;
  }

  /** One failing receiver (a channel, an SSE hub) must not keep a transition from the others. */
  #each<T>(receivers: Iterable<T>, hand: (receiver: T) => void): void {
    for (const receiver of receivers) {
      try {
        hand(receiver);
      } catch (error) {
        this.#deps.log.error({ err: error }, 'alert delivery failed');
      }
    }
  }
}
