import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Harness, QUIET_MONITORING, T0 } from '../test/harness.ts';
import { testTempDir } from '../../test/support/temp.ts';
import { Journal, JournalError } from './journal.ts';

const dir = () => testTempDir('cw-journal-');

/** Runs a harness and journals every step's changes, as the service does. */
function journalled(path: string) {
  const { journal } = Journal.open(path, { compactBytes: 2_000 });
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
});
