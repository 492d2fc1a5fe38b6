import type { Command } from 'commander';
import { z } from 'zod';
import { createStore } from '../lib/influx/faults.ts';
import { startInfluxd } from '../lib/influx/server.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { loadConfig, portSchema } from '../protocol/config.ts';

/** `cradlewatch influx start`: the same private influxd the tests use, for development by hand. */
export const influxStartConfigSchema = z.object({
  dataDir: z.string().min(1),
  port: portSchema,
  database: z.string().min(1),
});

export function registerInfluxCommand(program: Command): void {
  const influx = program.command('influx').description('a private InfluxDB for development and tests');
  influx
    .command('start')
    .description('start influxd on loopback with its own data dir and print its URL; Ctrl-C stops it')
    .option('--data-dir <dir>', 'where the data lives', './data/influxdb')
    .option('--port <port>', 'HTTP port (0 = a free one)', '0')
    .option('--database <name>', 'the database to make for the services', 'cradlewatch')
    .action(async (options: { dataDir: string; port: string; database: string }) => {
      const config = loadConfig(influxStartConfigSchema, {
        env: {},
        flags: options,
        flagMap: { dataDir: 'dataDir', port: 'port', database: 'database' },
      });
      const log = createLogger().child({ component: 'influx' });
      const server = await startInfluxd({ dataDir: config.dataDir, port: config.port });
      // Ingest would make it too, but a database named here is one the user can see and query at once.
      const made = await createStore({ api: 'v1', url: server.url, database: config.database });
      // The one stdout line scripts read: the URL first, then the env that points services at it.
      console.log(
        `InfluxDB ${server.url} (data in ${server.dataDir}, ${made}); ` +
          `CW_INFLUX_API=v1 CW_INFLUX_URL=${server.url} CW_INFLUX_DATABASE=${config.database}`,
      );
      exitOnSignals(() => server.stop(), log);
    });
}
