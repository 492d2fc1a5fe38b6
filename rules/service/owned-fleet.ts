import { ConfigError } from '../../protocol/config.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import { ownedFleet, selectCenters } from '../../protocol/partition.ts';
import { FleetWatcher } from '../../lib/fleet-file.ts';
import type { Logger } from '../../lib/logger.ts';
import type { RulesServiceConfig } from '../config.ts';

/**
 * The part of the registry this process judges, kept current as the registry file changes. A partition
 * sees only its centres: its engine watches (and its HTTP shows) nothing of another's.
 */
export class OwnedFleet {
  readonly partitioned: boolean;
  readonly #config: RulesServiceConfig;
  readonly #watcher: FleetWatcher;
  readonly #addedListeners = new Set<(centers: string[]) => void>();
  #centers: string[];
  #index: FleetIndex;

  constructor(config: RulesServiceConfig, log: Logger) {
    this.#config = config;
    this.#watcher = new FleetWatcher(config.fleetFile, log);
    this.partitioned = config.centers !== undefined || config.partition !== undefined;
    this.#centers = selectCenters(this.#watcher.current, config);
    this.#index = ownedFleet(this.#watcher.current, this.#centers);
    for (const center of config.rules.centers.keys()) {
      if (!this.#watcher.current.centers.has(center)) {
        throw new ConfigError(
          `invalid config:\n  rules.centers.${center}: no such centre in ${config.fleetFile}`,
        );
      }
    }
  }

  /** The owned centres' part of the registry. */
  get index(): FleetIndex {
    return this.#index;
  }

  get centers(): string[] {
    return this.#centers;
  }

  /**
   * The centres to subscribe to. Without a selection the wildcard also covers centres added to the registry
   * later.
   */
  get subscribed(): string[] {
    return this.partitioned ? this.#centers : ['+'];
  }

  /** Starts following the registry file; `onFleet` hears of every new owned part. */
  watch(onFleet: (index: FleetIndex) => void): void {
    this.#watcher.onChange((next) => {
      // Like ingest, a partition keeps the centres it has and takes the ones the registry now gives it.
      const added = this.partitioned
        ? selectCenters(next, this.#config).filter((c) => !this.#centers.includes(c))
        : [];
      this.#centers = this.partitioned ? [...this.#centers, ...added] : selectCenters(next, this.#config);
      this.#index = ownedFleet(next, this.#centers);
      onFleet(this.#index);
      if (added.length > 0) for (const listener of this.#addedListeners) listener(added);
    });
    this.#watcher.start();
  }

  /** Centres a partition takes on from a changed registry. */
  onAdded(listener: (centers: string[]) => void): void {
    this.#addedListeners.add(listener);
  }

  close(): void {
    this.#watcher.close();
  }
}
