import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { SmallDisk, isRoot } from '../../test/faults/tmpfs.ts';
import { Harness, QUIET_MONITORING, T0 } from '../../test/support/rules/engine.ts';
import { testTempDir } from '../../test/support/temp.ts';
import { Outbox } from '../channels/outbox.ts';
import { DiskGuard } from './guard.ts';
import { Journal, JournalError } from './journal.ts';

const dir = () => testTempDir('cw-journal-');

/** Runs a harness and journals every step's changes, as the service does. */
function journalled(path: string, guard?: DiskGuard) {
  const durable = guard && { guard, state: () => h.engine.snapshot() };
  const { journal } = Journal.open(path, { compactBytes: 2_000, ...(durable ? { durable } : {}) });
  const h = new Harness({ rules: QUIET_MONITORING });
  const step = () => {
    const out = h.outputs.at(-1)!;
    journal.append(h.engine.drainChanges(), out.transitions);
    if (out.transitions.length) journal.markDelivered(out.transitions.at(-1)!.seq);
  };
  return { journal, h, step };
}

describe('journal', () => {
  it('restores open alerts, acknowledgements, timers and the sequence', () => {
    const path = dir();
    const { journal, h, step } = journalled(path);
    h.nap('r2', 'started', T0);
    step();
    for (let t = T0; t <= T0 + 40_000; t += 1000) {
      h.wearable('w-07', t, { posture: 'prone' });
      step();
    }
    h.press(T0 + 40_000);
    step();
    const prone = h.engine.openAlerts().find((a) => a.rule === 'prone-sleep')!;
    h.ack(prone.id, 'teacher-li', T0 + 41_000);
    step();
    journal.close();

    const { restored } = Journal.open(path);
    const again = new Harness({ rules: QUIET_MONITORING, start: T0 + 41_000, state: restored.state });
    expect(again.engine.openAlerts()).toEqual(h.engine.openAlerts());
    expect(again.engine.getAlert(prone.id)?.acknowledgedBy).toBe('teacher-li');
    expect(again.engine.seq).toBe(h.engine.seq);
    expect(restored.delivered).toBe(h.engine.seq);
    expect(restored.recent.map((t) => t.seq)).toEqual(h.transitions.map((t) => t.seq));
  });

  it('compacts into a snapshot and restores the same state from it', () => {
    const path = dir();
    const { journal, h, step } = journalled(path);
    for (let i = 0; i < 20; i++) {
      h.press(T0 + i * 1000);
      step();
      if (journal.needsCompaction()) journal.compact(h.engine.snapshot());
    }
    expect(readFileSync(join(path, 'snapshot.json'), 'utf8')).toContain('one-key-alarm');
    journal.close();
    const { restored } = Journal.open(path);
    expect(restored.state).toEqual(h.engine.snapshot());
    expect(restored.delivered).toBe(h.engine.seq);
  });

  it('fsyncs on its timer in the background, and reports the fsync once the thread pool is done', async () => {
    const path = dir();
    const fsyncs: number[] = [];
    const { journal } = Journal.open(path, { syncIntervalMs: 5, onFsync: (s) => fsyncs.push(s) });
    journal.markDelivered(7);
    expect(fsyncs).toEqual([]);
    await waitFor(() => fsyncs.length === 1, { what: 'the background fsync' });
    journal.close();
    expect(Journal.open(path).restored.delivered).toBe(7);
  });

  it('syncAsync resolves once the thread pool has fsynced, not before', async () => {
    const path = dir();
    const fsyncs: number[] = [];
    const { journal } = Journal.open(path, { syncIntervalMs: 60_000, onFsync: (s) => fsyncs.push(s) });
    journal.markDelivered(9);
    const synced = journal.syncAsync();
    expect(fsyncs).toEqual([]);
    await synced;
    expect(fsyncs).toHaveLength(1);
    journal.close();
    expect(Journal.open(path).restored.delivered).toBe(9);
  });

  it('drops a torn last line and keeps appending on a line of its own', () => {
    const path = dir();
    const { journal, h, step } = journalled(path);
    h.press(T0);
    step();
    journal.close();
    appendFileSync(join(path, 'journal.jsonl'), '{"c":[["alerts","x",{"tor');
    const first = Journal.open(path);
    expect(Object.keys(first.restored.state.alerts)).toEqual(['one-key-alarm|btn-2']);
    first.journal.markDelivered(99);
    first.journal.close();
    expect(Journal.open(path).restored.delivered).toBe(99);
  });

  it('refuses a damaged line in the middle with a clear error', () => {
    const path = dir();
    writeFileSync(join(path, 'journal.jsonl'), 'garbage\n{"d":1}\n');
    expect(() => Journal.open(path)).toThrow(JournalError);
    expect(() => Journal.open(path)).toThrow(/line 1 is damaged/);
  });

  it('skips a journal older than the snapshot (a compaction cut between its two renames)', () => {
    const path = dir();
    const { journal, h, step } = journalled(path);
    h.press(T0);
    step();
    journal.compact(h.engine.snapshot());
    h.press(T0 + 1_000);
    step();
    const older = readFileSync(join(path, 'journal.jsonl'), 'utf8');
    h.press(T0 + 2_000);
    step();
    journal.compact(h.engine.snapshot());
    journal.close();
    writeFileSync(join(path, 'journal.jsonl'), older);

    const first = Journal.open(path);
    expect(first.restored.state).toEqual(h.engine.snapshot());
    expect(first.restored.recent.map((t) => t.seq)).toEqual(h.transitions.map((t) => t.seq));
    first.journal.close();
    // The stale journal was replaced by an empty one of the snapshot's epoch.
    expect(Journal.open(path).restored.state).toEqual(h.engine.snapshot());
  });
});

describe.skipIf(!isRoot)(
  `journal on a disk that refuses${isRoot ? '' : ' [needs root: skipped, not root]'}`,
  () => {
    it('disk full: steps go on in memory, and the snapshot written when the disk is back holds them all', () => {
      const disk = new SmallDisk(256 * 1024);
      try {
        const guard = new DiskGuard(silentLogger, { retryMs: 3_600_000 });
        const { journal, h, step } = journalled(disk.dir, guard);
        h.press(T0);
        step();
        disk.fill(0);
        let presses = 1;
        // tmpfs fills by pages: the journal's last page takes a few more lines before the disk refuses.
        while (journal.durable && presses < 200) {
          h.press(T0 + presses++ * 1_000);
          step();
        }
        expect(journal.durable).toBe(false);
        expect(guard.faults).toHaveLength(1);
        expect(guard.faults[0]!.code).toBe('ENOSPC');
        expect(guard.check()).toEqual({
          ok: false,
          reason: expect.stringContaining(
            `${join(disk.dir, 'journal.jsonl')} (ENOSPC): free space on that disk`,
          ),
        });
        for (let i = 0; i < 5; i++) {
          h.press(T0 + presses++ * 1_000);
          step();
        }
        guard.retry();
        expect(journal.durable).toBe(false);

        disk.unfill();
        guard.retry();
        expect(journal.durable).toBe(true);
        expect(guard.check()).toEqual({ ok: true });
        h.press(T0 + presses++ * 1_000);
        step();
        journal.close();
        guard.close();

        const { restored } = Journal.open(disk.dir);
        expect(restored.state).toEqual(h.engine.snapshot());
        expect(restored.delivered).toBe(h.engine.seq);
        expect(restored.recent.map((t) => t.seq)).toEqual(h.transitions.map((t) => t.seq));
        expect(h.transitions).toHaveLength(presses);
      } finally {
        disk.remove();
      }
    });

    it('an outbox on a disk that refuses: its queue waits in memory, and the journal is rewritten only after it', () => {
      const journalDisk = new SmallDisk(256 * 1024);
      const outboxDisk = new SmallDisk(256 * 1024);
      try {
        const guard = new DiskGuard(silentLogger, { retryMs: 3_600_000 });
        const { journal, h, step } = journalled(journalDisk.dir, guard);
        const outbox = Outbox.open(outboxDisk.dir, 'mqtt', { guard });
        outboxDisk.fill(0);
        journalDisk.fill(0);
        let presses = 0;
        while ((journal.durable || guard.faults.length < 2) && presses < 200) {
          const out = h.press(T0 + presses++ * 1_000);
          step();
          for (const t of out.transitions) outbox.take(t);
          outbox.sync();
        }
        expect(guard.faults.map((f) => f.code)).toEqual(['ENOSPC', 'ENOSPC']);

        // The journal's disk is back, the outbox's is not: a snapshot now would say delivered what no
        // outbox on disk holds, so the journal waits.
        journalDisk.unfill();
        guard.retry();
        expect(journal.durable).toBe(false);
        expect(guard.faults).toHaveLength(2);

        outboxDisk.unfill();
        guard.retry();
        expect(guard.faults).toEqual([]);
        expect(journal.durable).toBe(true);
        outbox.close();
        journal.close();
        guard.close();
        const reopened = Outbox.open(outboxDisk.dir, 'mqtt');
        expect(reopened.pending().map((t) => t.seq)).toEqual(h.transitions.map((t) => t.seq));
        reopened.close();
        expect(Journal.open(journalDisk.dir).restored.state).toEqual(h.engine.snapshot());
      } finally {
        journalDisk.remove();
        outboxDisk.remove();
      }
    });

    it('read-only disk at start: restores what it holds, runs, and writes afresh once it is writable', () => {
      const disk = new SmallDisk(256 * 1024);
      try {
        const { journal, h, step } = journalled(disk.dir);
        h.press(T0);
        step();
        journal.close();
        disk.readOnly(true);

        const guard = new DiskGuard(silentLogger, { retryMs: 3_600_000 });
        let again: Harness | undefined;
        const reopened = Journal.open(disk.dir, {
          durable: { guard, state: () => again!.engine.snapshot() },
        });
        expect(reopened.restored.state).toEqual(h.engine.snapshot());
        again = new Harness({ rules: QUIET_MONITORING, start: T0, state: reopened.restored.state });
        const out = again.press(T0 + 1_000);
        reopened.journal.append(again.engine.drainChanges(), out.transitions);
        expect(reopened.journal.durable).toBe(false);
        expect(guard.faults[0]!.code).toBe('EROFS');
        expect(guard.check()).toMatchObject({
          reason: expect.stringMatching(/EROFS.*remount it read-write/),
        });

        disk.readOnly(false);
        guard.retry();
        expect(reopened.journal.durable).toBe(true);
        reopened.journal.close();
        guard.close();
        const last = Journal.open(disk.dir).restored;
        expect(last.state).toEqual(again.engine.snapshot());
        expect(last.recent.map((t) => t.kind)).toEqual(['raised', 'renotified']);
      } finally {
        disk.remove();
      }
    });
  },
);
