import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ConfigError } from '../protocol/config.ts';
import { describeZodError } from '../protocol/reasons.ts';

export const FAULT_KINDS = [
  'malformed-json',
  'schema-violation',
  'duplicate',
  'out-of-order',
  'clock-skew',
  'oversized',
  'spoofed-topic',
  'wrong-password',
  'connection-storm',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const qosSchema = z.union([z.literal(0), z.literal(1)]);

/**
 * One line of a recording: what the simulator did at simulated time `t`. `client` is a device id, or
 * `@nap` for the nap publisher's service account. A `drop` ends a connection without DISCONNECT, so the
 * broker publishes its last will; `disconnect` is a clean goodbye after a retained offline status.
 */
export const simRecordSchema = z.object({
  t: z.int(),
  op: z.enum(['connect', 'publish', 'drop', 'disconnect']),
  client: z.string().min(1),
  topic: z.string().optional(),
  qos: qosSchema.optional(),
  retain: z.boolean().optional(),
  payload: z.string().optional(),
  /** Readings carried by this publish (0 for status, nap and alarm messages). */
  readings: z.int().optional(),
  will: z.object({ topic: z.string(), payload: z.string(), qos: qosSchema, retain: z.boolean() }).optional(),
  /** The connection attempt uses a wrong password and must be refused. */
  badPassword: z.boolean().optional(),
  fault: z.enum(FAULT_KINDS).optional(),
  /** What the pipeline should do with it: a dead-letter reason, or `refused` for a broker refusal. */
  expect: z.string().optional(),
});
export type SimRecord = z.infer<typeof simRecordSchema>;

export function formatRecord(record: SimRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Appends records to a JSONL file, honouring the stream's back-pressure. */
export class RecordingWriter {
  readonly #out: WriteStream;

  constructor(file: string) {
    this.#out = createWriteStream(file);
  }

  async write(record: SimRecord): Promise<void> {
    if (!this.#out.write(formatRecord(record))) await once(this.#out, 'drain');
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#out.once('error', reject);
      this.#out.end(() => resolve());
    });
  }
}

/** Streams a recording back, refusing the first malformed line with its line number. */
export async function* readRecording(file: string): AsyncGenerator<SimRecord> {
  const input = createReadStream(file, 'utf8');
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ConfigError(`cannot read recording ${file}: ${error.code ?? error.message}`)),
    );
  });
  await opened;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ConfigError(`recording ${file} line ${number}: not JSON`);
    }
    const parsed = simRecordSchema.safeParse(value);
    if (!parsed.success) {
      throw new ConfigError(`recording ${file} line ${number}: ${describeZodError(parsed.error)}`);
    }
    yield parsed.data;
  }
}
