import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../protocol/config.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { runBench } from './harness.ts';
import { type BenchOptions, SCENARIOS, SMOKE, TOPOLOGIES } from './options.ts';

const flagsSchema = z
  .object({
    scenario: z.enum([...SCENARIOS, 'all']).default('all'),
    services: z.enum(TOPOLOGIES).default('split'),
    brokers: z.coerce.number().int().min(1).max(8).default(1),
    partitions: z.coerce.number().int().min(1).max(16).default(1),
    rate: z.coerce.number().int().min(10).max(100_000).default(30_000),
    duration: z.coerce.number().int().min(1).max(3_600).default(300),
    connections: z.coerce.number().int().min(10).max(15_000).default(10_000),
    presses: z.coerce.number().int().min(1).max(10_000).default(200),
    outage: z.coerce.number().int().min(1).max(600).default(60),
    smoke: z.boolean().default(false),
    cpuProf: z.string().min(1).optional(),
    heapMb: z.coerce.number().int().min(64).max(16_384).optional(),
  })
  // `cradlewatch up` runs one ingest and one rules inside its process: only the split topology partitions.
  .refine((f) => f.partitions === 1 || f.services === 'split', {
    message: 'needs --services split',
    path: ['partitions'],
  })
  // Likewise its one broker: a cluster is broker processes of their own.
  .refine((f) => f.brokers === 1 || f.services === 'split', {
    message: 'needs --services split (`cradlewatch up` runs one broker in its process)',
    path: ['brokers'],
  });

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('drive the real pipeline (simulator → broker → ingest + rules → InfluxDB) and print a table')
    .option('--scenario <name>', `${SCENARIOS.join(' | ')} | all`)
    .option(
      '--services <how>',
      `${TOPOLOGIES.join(' | ')}: one \`cradlewatch up\` or three processes (default split)`,
    )
    .option(
      '--brokers <n>',
      'broker processes as one cluster on a private redis-server, with split (default 1)',
    )
    .option(
      '--partitions <n>',
      'ingest and rules processes each, partitioned by centre, with split (default 1)',
    )
    .option('--rate <n>', 'readings/s for throughput, latency and recovery (default 30000)')
    .option('--duration <s>', 'seconds at the full rate, after the connection ramp (default 300)')
    .option('--connections <n>', 'wearables on their own connections for `connections` (default 10000)')
    .option('--presses <n>', 'one-key alarm presses timed to SSE in `latency` (default 200)')
    .option('--outage <s>', 'seconds InfluxDB is stopped in `recovery` (default 60)')
    .option('--cpu-prof <dir>', 'write a V8 CPU profile of each service process into <dir>')
    .option('--heap-mb <n>', 'V8 old-space limit of each service process, in MB')
    .option('--smoke', 'seconds-long tiny run of every scenario (what npm test runs)')
    .action(async (raw: Record<string, unknown>) => {
      const parsed = flagsSchema.safeParse(raw);
      if (!parsed.success) throw new ConfigError(`invalid bench flags: ${describeZodError(parsed.error)}`);
      const flags = parsed.data;
      const sizes = flags.smoke ? SMOKE : { ...flags, ceilingS: 5 };
      const options: BenchOptions = {
        scenarios: flags.scenario === 'all' ? [...SCENARIOS] : [flags.scenario],
        topology: flags.services,
        brokers: flags.brokers,
        partitions: flags.partitions,
        ...(flags.cpuProf ? { cpuProfileDir: resolve(flags.cpuProf) } : {}),
        ...(flags.heapMb ? { heapMb: flags.heapMb } : {}),
        rate: sizes.rate,
        durationS: sizes.duration,
        connections: sizes.connections,
        presses: sizes.presses,
        outageS: sizes.outage,
        ceilingS: sizes.ceilingS,
        progress: (line) => console.error(line),
      };
      // Ctrl-C on a long run must not leave the services and influxd behind: exiting runs the bench's
      // cleanups (on-exit.ts), which kill them and remove the run's directory.
      const abandon = () => process.exit(130);
      process.once('SIGINT', abandon);
      process.once('SIGTERM', abandon);
      const { table, jsonFile } = await runBench(options);
      console.log(`\n${table}\n\nJSON: ${jsonFile}`);
    });
}
