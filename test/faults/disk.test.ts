import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceTopic } from '../support/ingest.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { type RunningInfluxd, startInfluxd } from '../../lib/influx/server.ts';
import { freePort, waitFor } from '../../lib/net.ts';
import { deadLetterSchema } from '../../protocol/payloads.ts';
import { freshInflux } from '../support/influx.ts';
import { uniqueName } from '../support/influx-provider.ts';
import { type FaultRig, startRig } from './harness.ts';
import { SmallDisk, isRoot } from './tmpfs.ts';

interface Check {
  name: string;
  ok: boolean;
  reason?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function check(rig: FaultRig, name: string): Promise<{ code: number; check: Check }> {
  const response = await fetch(`${rig.ingest.httpUrl}/healthz`);
  const body = (await response.json()) as { checks: Check[] };
  return { code: response.status, check: body.checks.find((c) => c.name === name)! };
}

/**
 * While the disk refuses, ingest's PUBACKs to the broker stop (the broker keeps the messages in ingest's
 * session, the devices are acknowledged by the broker); once the disk takes data again they resume by
 * themselves. Returns the seconds from the disk's return to ingest's first PUBACK after it.
 */
async function holdsThenResumes(rig: FaultRig, store: string, code: RegExp, diskBack: () => void) {
  await waitFor(async () => (await check(rig, store)).check.ok === false, {
    what: `${store} fault reported`,
    timeoutMs: 30_000,
  });
  const during = await check(rig, store);
  expect(during.code).toBe(503);
  expect(during.check.reason).toMatch(code);
  const held = rig.ingestAcks();
  await sleep(1_000);
  // Not one PUBACK from ingest while the disk refuses: the broker holds the readings for it.
  expect(rig.ingestAcks()).toBe(held);
  expect(rig.ingest.stats().pendingAcks).toBeGreaterThan(0);
  expect(await rig.unacknowledged()).toBeGreaterThan(0);
  const back = performance.now();
  diskBack();
  await waitFor(() => rig.ingestAcks() > held, { what: 'PUBACKs again', timeoutMs: 30_000 });
  const seconds = (performance.now() - back) / 1000;
  await waitFor(async () => (await check(rig, store)).check.ok, { what: `${store} ok again` });
  return seconds;
}

/** The numbers of test/faults/README.md's table, printed by each case. */
async function report(
  name: string,
  rig: FaultRig,
  seconds: number,
  more = '',
  after = 'PUBACKs again',
): Promise<void> {
  console.log(
    `[faults] ${name}: ${rig.acknowledged} acknowledged, ${await rig.written()} written, ${more ? `${more}, ` : ''}` +
      `${after} ${seconds.toFixed(1)} s after the disk was back, ${rig.connects()} connect(s)`,
  );
}

describe.skipIf(!isRoot)(
  `disk faults (#15.2)${isRoot ? '' : ' [needs root: skipped, not root]'}`,
  { timeout: 120_000 },
  () => {
    let disk: SmallDisk | undefined;
    let rig: FaultRig | undefined;
    let influxd: RunningInfluxd | undefined;

    afterEach(async () => {
      await rig?.close();
      await influxd?.stop();
      disk?.remove();
      [rig, influxd, disk] = [undefined, undefined, undefined];
    });

    /**
     * InfluxDB away (nothing on its port yet), so every batch must go to the spool on the small disk. 8 MiB:
     * once freed, the disk must hold what the load spools until the test looks (a 1 MiB one filled up again
     * and rightly reported ENOSPC once more).
     */
    async function spoolRig(): Promise<{ influx: InfluxConnection; port: number }> {
      disk = new SmallDisk(8 * 1024 * 1024);
      const port = await freePort();
      const influx: InfluxConnection = { api: 'v1', url: `http://127.0.0.1:${port}`, database: uniqueName() };
      rig = await startRig(influx, { spool: { dir: join(disk.dir, 'spool'), maxBytes: 64 * 1024 * 1024 } });
      return { influx, port };
    }

    /** InfluxDB comes up empty on the port ingest has been trying; ingest makes the database and drains. */
    async function influxBack(port: number): Promise<void> {
      influxd = await startInfluxd({ port });
      await waitFor(async () => (await check(rig!, 'influx')).check.ok, {
        what: 'InfluxDB ok',
        timeoutMs: 30_000,
      });
      await rig!.allWritten(60_000);
      expect(await rig!.written()).toBe(rig!.acknowledged);
    }

    it('spool disk full (ENOSPC): stops acknowledging, says where and why, resumes by itself, loses nothing', async () => {
      const { port } = await spoolRig();
      disk!.fill(48 * 1024);
      const flow = rig!.load();
      const seconds = await holdsThenResumes(rig!, 'spool', /ENOSPC.*free space/, () => disk!.unfill());
      expect((await check(rig!, 'spool')).check.reason).toBeUndefined();
      await flow.stop();
      await influxBack(port);
      await report('spool ENOSPC', rig!, seconds);
    });

    it('spool disk read-only (EROFS): stops acknowledging, resumes when writable, loses nothing', async () => {
      const { port } = await spoolRig();
      await rig!.publishGood(20);
      disk!.readOnly(true);
      const flow = rig!.load();
      const seconds = await holdsThenResumes(rig!, 'spool', /EROFS.*read-write/, () => disk!.readOnly(false));
      await flow.stop();
      await influxBack(port);
      await report('spool EROFS', rig!, seconds);
    });

    it('spool disk read-only while holding data: drains to InfluxDB anyway, and keeps acknowledging', async () => {
      const { port } = await spoolRig();
      await rig!.publishGood(300);
      await rig!.ingest.flush();
      expect(rig!.ingest.stats().spoolBytes).toBeGreaterThan(0);
      disk!.readOnly(true);
      const drainedAt = performance.now();
      await influxBack(port);
      const seconds = (performance.now() - drainedAt) / 1000;
      // Its segments could not be deleted; they are forgotten, not drained again and again.
      expect(rig!.ingest.stats().spoolBytes).toBe(0);
      const acks = rig!.ingestAcks();
      await rig!.publishGood(100);
      await rig!.allWritten();
      expect(rig!.ingestAcks()).toBeGreaterThan(acks);
      disk!.readOnly(false);
      await report(
        'spool EROFS with data in it',
        rig!,
        seconds,
        '',
        'drained (InfluxDB back, disk still read-only)',
      );
    });

    it('dead-letter disk full: bad input waits unacknowledged with the good, nothing crashes or is lost', async () => {
      disk = new SmallDisk(1024 * 1024);
      const influx = await freshInflux();
      rig = await startRig(influx, { deadletter: { dir: join(disk.dir, 'deadletter') } });
      disk.fill(8 * 1024);
      const flow = rig.load();
      const poisons: Buffer[] = [];
      const bad = (async () => {
        for (let i = 0; i < 20; i++) {
          const payload = Buffer.from(`not json ${i} ${'\u0001'.repeat(2_000)}`);
          poisons.push(payload);
          await rig!.pub.publishAsync(deviceTopic('w2'), payload, { qos: 1 });
        }
      })();
      const seconds = await holdsThenResumes(rig, 'deadletter', /ENOSPC.*free space/, () => disk!.unfill());
      await bad;
      await flow.stop();
      await rig.allWritten();
      expect(await rig.written()).toBe(rig.acknowledged);
      await rig.ingest.flush();
      const records = readFileSync(join(disk.dir, 'deadletter', 'deadletter.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => deadLetterSchema.parse(JSON.parse(line)));
      const wanted = poisons.map((p) => createHash('sha256').update(p).digest('hex'));
      for (const sha256 of wanted) expect(records.filter((r) => r.sha256 === sha256)).toHaveLength(1);
      await report(
        'dead-letter ENOSPC',
        rig,
        seconds,
        `${records.length} dead letters for ${poisons.length} bad messages`,
      );
    });
  },
);
