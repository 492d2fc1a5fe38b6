import { join } from 'node:path';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { ensureDatabase, pingInflux } from '../../lib/influx/query.ts';
import { type RunningInfluxd, findInfluxd, startInfluxd } from '../../lib/influx/server.ts';
import type { Logger } from '../../lib/logger.ts';
import type { UpConfig } from './config.ts';

export type Storage =
  | { kind: 'configured'; conn: InfluxConnection; close(): Promise<void> }
  | { kind: 'embedded'; conn: InfluxConnection; server: RunningInfluxd; close(): Promise<void> }
  /** No InfluxDB: ingest spools to disk until one is configured; `conn` is where it will look. */
  | { kind: 'spool'; conn: InfluxConnection; close(): Promise<void> };

/** In this order: the user's InfluxDB; else a private influxd from PATH under dataDir; else the spool. */
export async function chooseStorage(config: UpConfig, log: Logger): Promise<Storage> {
  if (config.influx) {
    if (!(await pingInflux(config.influx, 3_000))) {
      log.warn(
        { url: config.influx.url },
        'the configured InfluxDB does not answer yet; ingest spools until it does',
      );
    } else await ensureDatabase(config.influx);
    return { kind: 'configured', conn: config.influx, close: async () => {} };
  }
  if (config.embeddedInflux && findInfluxd()) {
    const server = await startInfluxd({ dataDir: join(config.dataDir, 'influxdb'), host: '127.0.0.1' });
    const conn: InfluxConnection = { api: 'v1', url: server.url, database: 'cradlewatch' };
    await ensureDatabase(conn);
    return { kind: 'embedded', conn, server, close: () => server.stop() };
  }
  // Where a default local InfluxDB would answer: the spool drains there the first time one does.
  const conn: InfluxConnection = { api: 'v1', url: 'http://127.0.0.1:8086', database: 'cradlewatch' };
  return { kind: 'spool', conn, close: async () => {} };
}
