import { afterEach, describe, expect, it } from 'vitest';
import type { Sink } from './sink.ts';

export interface SinkHarness {
  sink: Sink;
  /** Lines durable in the sink's backing store, read by a fresh reader (not the sink's own memory). */
  count(): Promise<number>;
  /** A new sink on the same backing store, as after a restart. */
  reopen(): Promise<Sink>;
  cleanup(): Promise<void>;
}

let stamp = Date.now() - 60_000;
/** Distinct, well-formed points (unique timestamps, so none overwrites another in InfluxDB). */
export function contractLines(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `contract,k=k${i % 7} n=${i}i ${++stamp}`);
}

/**
 * The one contract every Sink passes (cf. aedes-persistence's abstract tests): a resolved write is durable,
 * concurrent writes all land, data outlives the sink object, and a closed sink refuses work loudly.
 */
export function sinkContract(name: string, make: () => Promise<SinkHarness>): void {
  describe(`Sink contract: ${name}`, () => {
    let harness: SinkHarness | undefined;
    const open = async () => {
      harness = await make();
      return harness;
    };
    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    });

    it('makes a batch durable before write resolves, refusing none of a well-formed batch', async () => {
      const h = await open();
      const result = await h.sink.write(contractLines(25));
      expect(result.rejected).toEqual([]);
      expect(await h.count()).toBe(25);
    });

    it('takes an empty batch as a no-op', async () => {
      const h = await open();
      expect(await h.sink.write([])).toEqual({ rejected: [] });
      expect(await h.count()).toBe(0);
    });

    it('lands every line of concurrent writes', async () => {
      const h = await open();
      const results = await Promise.all(Array.from({ length: 6 }, () => h.sink.write(contractLines(40))));
      expect(results.every((r) => r.rejected.length === 0)).toBe(true);
      expect(await h.count()).toBe(240);
    });

    it('keeps what it took across a close and reopen', async () => {
      const h = await open();
      await h.sink.write(contractLines(30));
      await h.sink.close();
      const again = await h.reopen();
      expect(await h.count()).toBe(30);
      await again.write(contractLines(5));
      expect(await h.count()).toBe(35);
      await again.close();
    });

    it('refuses a write after close', async () => {
      const h = await open();
      await h.sink.close();
      await expect(h.sink.write(contractLines(1))).rejects.toThrow(/closed/);
    });
  });
}
