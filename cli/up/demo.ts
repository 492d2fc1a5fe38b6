import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateFleet,
  loadScenario,
  runSimulation,
  type SimHandle,
  writeFleetFiles,
} from '../../device-sim/index.ts';
import type { Logger } from '../../lib/logger.ts';

/** Demo registry: one centre, three rooms of four infants; cheap hashes, since it is regenerated each start. */
export function writeDemoFleet(dataDir: string): { fleetFile: string; credentials: Record<string, string> } {
  const dir = join(dataDir, 'demo');
  mkdirSync(dir, { recursive: true });
  const now = new Date();
  const generated = generateFleet({
    centers: 1,
    roomsPerCenter: 3,
    infantsPerRoom: 4,
    gateways: false,
    seed: 7,
    hashCost: 1024,
    referenceMonth: `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`,
  });
  const fleetFile = join(dir, 'fleet.yaml');
  writeFleetFiles(generated, fleetFile, join(dir, 'credentials.yaml'));
  return { fleetFile, credentials: generated.credentials };
}

/**
 * Plays the `demo` scenario in real time, over and over, so every kind of alert keeps coming back while
 * someone is looking. Returns a stop function.
 */
export function playDemo(options: {
  url: string;
  fleet: Parameters<typeof runSimulation>[0]['fleet'];
  credentials: Record<string, string>;
  napAccount: { username: string; password: string };
  log: Logger;
}): () => Promise<void> {
  const scenario = loadScenario('demo');
  let current: SimHandle | undefined;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      current = runSimulation({
        fleet: options.fleet,
        scenario,
        startTime: Date.now(),
        url: options.url,
        credentials: options.credentials,
        napAccount: options.napAccount,
        speed: 1,
        logger: options.log,
        status: 'off',
      });
      const summary = await current.done;
      options.log.info({ summary }, 'demo scenario finished; playing it again');
    }
  };
  const running = loop().catch((error: unknown) =>
    options.log.error({ err: error }, 'demo simulator stopped'),
  );
  return async () => {
    stopped = true;
    await current?.stop();
    await running;
  };
}
