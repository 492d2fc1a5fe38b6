export { ingestConfigSchema, loadIngestConfig, INGEST_SETTINGS, type IngestConfig } from './config.ts';
export { startIngest, type Ingest, type IngestOptions } from './service.ts';
export type { IngestStats } from './metrics.ts';
export type { Sink, SinkResult } from './sink.ts';
export { InfluxSink } from './influx-sink.ts';
export { Spool } from './spool.ts';
export { stableHash, selectCenters } from '../protocol/partition.ts';
