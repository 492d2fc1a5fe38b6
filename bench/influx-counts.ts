import type { InfluxConnection } from '../lib/influx/connection.ts';
import { influxRows } from '../lib/influx/query.ts';
import { scrapeSum } from './service-metrics.ts';

/** Silence-type alerts raised (stamped) after `since`, by rule: with nothing dropped, each one is false. */
export async function silenceRaisedSince(
  conn: InfluxConnection,
  since: number | undefined,
): Promise<Record<string, number>> {
  if (since === undefined) return {};
  const rows = await influxRows(
    conn,
    `SELECT count("alert_id") AS n FROM alert WHERE "transition" = 'raised' AND "rule" =~ /^(monitoring-lost|room-silent|center-silent)$/ AND time > ${since}ms GROUP BY "rule"`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.rule), Number(r.n)]));
}

export async function alertTransitions(conn: InfluxConnection): Promise<Record<string, number>> {
  const rows = await influxRows(conn, 'SELECT count("alert_id") AS n FROM alert GROUP BY "rule"');
  return Object.fromEntries(rows.map((r) => [String(r.rule), Number(r.n)]));
}

async function countWritten(conn: InfluxConnection): Promise<number> {
  const [w] = await influxRows(conn, 'SELECT count("seq") AS n FROM wearable');
  const [r] = await influxRows(conn, 'SELECT count("temp") AS n FROM room_env');
  return Number(w?.n ?? 0) + Number(r?.n ?? 0);
}

/**
 * Waits until InfluxDB holds `acked` readings, or until the count has stopped moving for 15 s while ingest
 * (every partition) holds nothing more (10 minutes at most); returns the count. Ingest may still hold readings in its spool or
 * its queue (InfluxDB slower than the offered rate): those are not lost until ingest says it has nothing
 * left; a count that stops moving while it still holds some is a retry backoff, not the end.
 */
export async function waitForWritten(
  conn: InfluxConnection,
  acked: number,
  /** Every ingest partition's: what one still holds is not lost either. */
  ingestUrls: string[],
  say: (line: string) => void,
): Promise<number> {
  let written = 0;
  let last = -1;
  let stableSince = Date.now();
  const ingestHolds = async () =>
    (await scrapeSum(ingestUrls, 'cradlewatch_ingest_spool_bytes')) +
    (await scrapeSum(ingestUrls, 'cradlewatch_ingest_queued_batches'));
  const waitUntil = Date.now() + 600_000;
  let reported = Date.now();
  while (Date.now() < waitUntil) {
    written = await countWritten(conn);
    if (written >= acked) break;
    if (written !== last) {
      last = written;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 15_000 && (await ingestHolds()) === 0) break;
    if (Date.now() - reported > 10_000) {
      reported = Date.now();
      say(
        `InfluxDB holds ${written} of ${acked}; ingest still holds ${await ingestHolds()} (spool bytes + batches)`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return written;
}
