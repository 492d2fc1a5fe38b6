import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerConfigSchema, startBroker } from '../../broker/index.ts';
import { generateFleet, loadScenario, runSimulation, writeFleetFiles } from '../../device-sim/index.ts';
import { ingestConfigSchema, startIngest } from '../../ingest/index.ts';
import { hashPassword } from '../../lib/credentials.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freePort } from '../../lib/net.ts';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { rulesServiceConfigSchema, startRules } from '../../rules/index.ts';
import { MIN_INTERVAL } from '../../dashboards/boards/pipeline.ts';

/**
 * Seeds a database the way production does: the `supervisor-day` scenario (device-sim) through a private
 * broker, ingest and the rules service, each started in-process on free ports, with caregiver actions
 * (acknowledgements, nap-check confirmations) made through the rules HTTP API. Nothing is written by hand.
 *
 * The scenario runs at SPEED× with simulated time ending about when the run ends, so its points land in the
 * last fifteen minutes like a live day's; the rules engine follows device time and ingest's clock-skew check
 * is off, as docs/design.md requires for a pipeline fed faster than real time.
 */
export const SEED = {
  center: 'c1',
  napRoom: 'c1-r2',
  infants: ['c1-r2-i1', 'c1-r2-i2'],
} as const;

export const INGEST_INSTANCE = 'ingest-dashboards';
export const SCENARIO_FILE = join(import.meta.dirname, '../../dashboards/supervisor-day.yaml');
const SPEED = 60;

/** Caregiver actions the HTTP API takes while the scenario plays: which alerts get acknowledged, and when. */
const ACK_ON: Record<string, AlertTransition['kind']> = {
  'prone-sleep': 'raised',
  'room-hot': 'raised',
  // Left unanswered until supervisors were told, so an escalation and a slow acknowledgement both exist.
  'one-key-alarm': 'escalated',
};

export interface SeedResult {
  readings: number;
  transitions: Record<string, number>;
  acknowledged: string[];
  confirmedChecks: number;
  /** Ingest's refusals by reason (what reached the dead-letter queue). */
  refused: Record<string, number>;
}

export async function seedDashboardData(conn: InfluxConnection): Promise<SeedResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cw-dashboards-'));
  const closers: (() => Promise<void>)[] = [];
  try {
    const scenario = loadScenario(SCENARIO_FILE);
    const now = new Date();
    const generated = generateFleet({
      ...scenario.fleet,
      seed: 11,
      hashCost: 1024,
      referenceMonth: `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`,
    });
    const fleetFile = join(dir, 'fleet.yaml');
    writeFleetFiles(generated, fleetFile, join(dir, 'credentials.yaml'));

    const login = (username: string) => ({ username, password: randomBytes(18).toString('base64url') });
    const logins = {
      ingest: login('cradlewatch-ingest'),
      rules: login('cradlewatch-rules'),
      sim: login('cw-sim'),
    };
    const account = (l: { username: string; password: string }, role: 'ingest' | 'rules' | 'simulator') => ({
      username: l.username,
      role,
      passwordHash: hashPassword(l.password, { N: 1024 }),
    });

    const broker = await startBroker(
      brokerConfigSchema.parse({
        port: await freePort(),
        fleetFile,
        accounts: [
          account(logins.ingest, 'ingest'),
          account(logins.rules, 'rules'),
          account(logins.sim, 'simulator'),
        ],
      }),
      silentLogger,
    );
    closers.push(() => broker.close());

    const ingest = await startIngest(
      ingestConfigSchema.parse({
        mqtt: { url: broker.mqttUrl, ...logins.ingest },
        influx: conn,
        fleetFile,
        maxClockSkewMs: 'off',
        spool: { dir: join(dir, 'spool') },
        deadletter: { dir: join(dir, 'deadletter') },
        http: { enabled: false },
        metricsIntervalMs: 1_000,
        instance: INGEST_INSTANCE,
      }),
      silentLogger,
    );
    closers.push(() => ingest.close());
    const ingestStarted = Date.now();

    const token = randomBytes(18).toString('base64url');
    const rules = await startRules(
      rulesServiceConfigSchema.parse({
        mqtt: { url: broker.mqttUrl, ...logins.rules },
        fleetFile,
        journalDir: join(dir, 'rules'),
        influx: conn,
        clock: { mode: 'device', speed: SPEED },
        maxClockSkewMs: 'off',
        // At SPEED× a one-second stall on this shared machine is a minute of device time: the default 30 s
        // silence would flap monitoring-lost for every wearable instead of only the ones switched off.
        rules: { defaults: { monitoringLost: { silenceS: 120 } } },
        http: { port: await freePort(), tokens: [{ token, role: 'supervisor', name: 'carer-li' }] },
      }),
      silentLogger,
    );
    closers.push(() => rules.close());

    const api = async (path: string, method = 'GET'): Promise<unknown> => {
      const response = await fetch(`${rules.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.json();
    };

    const transitions: Record<string, number> = {};
    const asked = new Set<string>();
    const acknowledged: string[] = [];
    // At 60× an alert can clear before the request lands (404/409), as it can for a slow caregiver.
    const acknowledge = async (id: string) => {
      const response = await fetch(`${rules.url}/api/alerts/${encodeURIComponent(id)}/ack`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      if (response.ok) acknowledged.push(id);
      else if (response.status !== 404 && response.status !== 409)
        throw new Error(`acknowledging ${id}: ${response.status} ${await response.text()}`);
    };
    // Settled only after the run; a rejection is rethrown then, not left unhandled meanwhile.
    const acks: Promise<void>[] = [];
    rules.alerts.subscribe((t) => {
      const key = `${t.alert.rule}:${t.kind}`;

      transitions[key] = (transitions[key] ?? 0) + 1;
      if (ACK_ON[t.alert.rule] === t.kind && !asked.has(t.alert.id)) {
        asked.add(t.alert.id);
        acks.push(acknowledge(t.alert.id));
        acks.at(-1)!.catch(() => undefined);
      }
    });

    // Simulated time ends as the run does, so the newest points are about "now" for the dashboards.
    const startTime = Date.now() + scenario.duration / SPEED - scenario.duration;
    const sim = runSimulation({
      fleet: generated.fleet,
      scenario,
      startTime,
      url: broker.mqttUrl,
      credentials: generated.credentials,
      napAccount: logins.sim,
      speed: SPEED,
      logger: silentLogger,
      status: 'off',
    });
    const summary = await sim.done;
    const failed = (await Promise.allSettled(acks)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    // A caregiver signs the nap room's latest checks off, so the nap-check log has a "confirmed by".
    const { records } = (await api(`/api/rooms/${SEED.napRoom}/checks?center=${SEED.center}`)) as {
      records: { id: string; at: number }[];
    };
    // Only checks taken while the scenario played: the rules clock runs on past its end (see below).
    const taken = records.filter((r) => r.at <= startTime + scenario.duration).slice(-SEED.infants.length);
    for (const record of taken)
      await api(`/api/checks/${encodeURIComponent(record.id)}/confirm?center=${SEED.center}`, 'POST');

    // Rules first: its clock runs on at SPEED× after the last reading, and would write into the future.
    closers.pop();
    await rules.close();
    // The pipeline panels chart rates per MIN_INTERVAL bucket, which takes points in two buckets: ingest
    // runs past the next bucket boundary, then writes one more point with every counter final.
    const bucket = Number(MIN_INTERVAL.replace(/s$/, '')) * 1_000;
    const until = Math.max(Math.floor(ingestStarted / bucket) * bucket + bucket, Date.now()) + 1_500;
    await new Promise((resolve) => setTimeout(resolve, until - Date.now()));
    const refused = Object.fromEntries(Object.entries(ingest.stats().invalid).filter(([, n]) => n > 0));
    return {
      readings: summary.readingsAcked,
      transitions,
      acknowledged,
      confirmedChecks: taken.length,
      refused,
    };
  } finally {
    for (const close of closers.reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}
