import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { ConfigError } from '../protocol/config.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { type Fleet, FleetIndex, fleetSchema } from '../protocol/fleet.ts';
import type { Logger } from './logger.ts';

/** Reads and validates a fleet registry (YAML or JSON); a bad file is refused naming the first bad field. */
export function readFleet(file: string): FleetIndex {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read fleet registry ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let raw: unknown;
  try {
    // js-yaml, not the `yaml` the config files use: a city's registry (30,000 wearables, 8 MB) took `yaml`
    // 4.3 s and 500 MB of heap, in every service at start; js-yaml builds no document tree (0.5 s, 39 MB).
    // The core schema, as `yaml` reads it: no timestamps, so a date stays the string it was written as.
    raw = file.endsWith('.json') ? JSON.parse(text) : loadYaml(text, { schema: CORE_SCHEMA, filename: file });
  } catch (error) {
    throw new ConfigError(`fleet registry ${file} does not parse: ${(error as Error).message}`);
  }
  const result = fleetSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(`fleet registry ${file} is invalid: ${describeZodError(result.error)}`);
  return new FleetIndex(result.data satisfies Fleet);
}

/**
 * Keeps a registry current: reloads on change, and keeps the last good one when an edit is invalid, so a
 * typo in fleet.yaml never takes a running centre offline.
 */
export class FleetWatcher {
  #current: FleetIndex;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners = new Set<(fleet: FleetIndex) => void>();

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {
    this.#current = readFleet(file);
  }

  get current(): FleetIndex {
    return this.#current;
  }

  onChange(listener: (fleet: FleetIndex) => void): void {
    this.#listeners.add(listener);
  }

  start(): this {
    this.#watcher = watch(this.file, () => {
      // Editors write in several steps; one reload after the burst is enough.
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.reload(), 200);
    });
    return this;
  }

  reload(): void {
    try {
      this.#current = readFleet(this.file);
      this.log.info({ file: this.file, devices: this.#current.devices.size }, 'fleet registry reloaded');
      for (const listener of this.#listeners) listener(this.#current);
    } catch (error) {
      this.log.error({ err: error }, 'fleet registry change refused; keeping the previous registry');
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
