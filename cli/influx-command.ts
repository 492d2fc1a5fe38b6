import type { Command } from 'commander';
import { z } from 'zod';
import { startInfluxd } from '../lib/influx/server.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { loadConfig, portSchema } from '../protocol/config.ts';

/** `cradlewatch influx start`: the same private influxd the tests use, for development by hand. */
export const influxStartConfigSchema = z.object({
  dataDir: z.string().min(1),
  port: portSchema,
});

export function registerInfluxCommand(program: Command): void {
  const influx = program.command('influx').description('a private InfluxDB for development and tests');
  influx
    .command('start')
    .description('start influxd on loopback with its own data dir and print its URL; Ctrl-C stops it')
    .option('--data-dir <dir>', 'where the data lives', './data/influxdb')
    .option('--port <port>', 'HTTP port (0 = a free one)', '0')
    .action(async (options: { dataDir: string; port: string }) => {
      const config = loadConfig(influxStartConfigSchema, {
        env: {},
        flags: options,
        flagMap: { dataDir: 'dataDir', port: 'port' },
      });
      const log = createLogger().child({ component: 'influx' });
      const server = await startInfluxd({ dataDir: config.dataDir, port: config.port });
      // The one stdout line scripts read: the URL first, then the env that points services at it.
      console.log(
        `InfluxDB ${server.url} (data in ${server.dataDir}); CW_INFLUX_API=v1 CW_INFLUX_URL=${server.url}`,
      );
      exitOnSignals(() => server.stop(), log);
    });
}
