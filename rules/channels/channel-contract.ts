import { afterEach, describe, expect, it } from 'vitest';
import type { AlertChannel, AlertTransition, AlertTransitionKind } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { waitFor } from '../../lib/net.ts';

/** What a channel's peer saw, reduced to what every channel can tell: which alert, in which state. */
export interface Observed {
  id: string;
  state: Alert['state'];
}

export interface ChannelUnderTest {
  channel: AlertChannel;
  /** Everything the real peer (broker subscriber, webhook receiver, InfluxDB, SSE client) has seen so far. */
  observed(): Promise<Observed[]>;
  /** Makes the peer unreachable or unresponsive, so `deliver` must neither throw nor wait for it. */
  breakPeer(): Promise<void>;
  teardown(): Promise<void>;
}

export interface ChannelHarness {
  name: string;
  create(): Promise<ChannelUnderTest>;
}

let counter = 0;

/** A valid transition; the contract suite varies id, kind and state. */
export function sampleTransition(overrides: {
  id?: string;
  kind?: AlertTransitionKind;
  center?: string;
  seq?: number;
  alert?: Partial<Alert>;
  audience?: AlertTransition['audience'];
}): AlertTransition {
  counter += 1;
  const at = 1_790_000_000_000 + counter * 1000;
  const kind = overrides.kind ?? 'raised';
  const state: Alert['state'] =
    kind === 'acknowledged'
      ? 'acknowledged'
      : kind === 'resolved'
        ? 'resolved'
        : kind === 'escalated'
          ? 'escalated'
          : 'raised';
  const alert: Alert = {
    v: 1,
    id: overrides.id ?? `alert-${counter}`,
    center: overrides.center ?? 'c1',
    room: 'room-1',
    rule: 'one-key-alarm',
    severity: 'critical',
    state,
    subject: { kind: 'device', id: 'button-1' },
    raisedAt: at,
    updatedAt: at,
    escalated: kind === 'escalated',
    notifications: 1,
    message: { 'zh-CN': '1 号睡眠室一键报警', en: 'One-key alarm in nap room 1' },
    ...(state === 'acknowledged' ? { acknowledgedBy: 'Ms Li', acknowledgedAt: at } : {}),
    ...(state === 'resolved' ? { resolvedAt: at } : {}),
    ...overrides.alert,
  };
  return {
    seq: overrides.seq ?? counter,
    kind,
    at,
    alert,
    audience: overrides.audience ?? (kind === 'escalated' ? 'supervisors' : 'caregivers'),
  };
}

function lifecycle(id: string): AlertTransition[] {
  return [
    sampleTransition({ id, kind: 'raised' }),
    sampleTransition({ id, kind: 'acknowledged' }),
    sampleTransition({ id, kind: 'resolved' }),
  ];
}

/**
 * The contract every AlertChannel keeps (protocol/alerts.ts): a transition reaches the real peer in order;
 * `deliver` never throws and never waits for the peer, even a broken one; `close` flushes what the channel
 * holds and may be called when the peer is gone; delivering after close is harmless.
 */
export function channelContract(harness: ChannelHarness): void {
  describe(`AlertChannel contract: ${harness.name}`, () => {
    let current: ChannelUnderTest | undefined;
    afterEach(async () => {
      await current?.teardown();
      current = undefined;
    });

    it('delivers a raise → acknowledge → resolve sequence to its peer in order', async () => {
      current = await harness.create();
      const id = `order-${counter + 1}`;
      for (const t of lifecycle(id)) current.channel.deliver(t);
      await waitFor(async () => (await current!.observed()).filter((o) => o.id === id).length >= 3, {
        what: `${harness.name} peer to see 3 transitions`,
      });
      const seen = (await current.observed()).filter((o) => o.id === id).map((o) => o.state);
      expect(seen).toEqual(['raised', 'acknowledged', 'resolved']);
    });

    it('keeps alerts apart: each alert id arrives with its own state', async () => {
      current = await harness.create();
      const a = sampleTransition({ kind: 'raised' });
      const b = sampleTransition({ kind: 'escalated', alert: { severity: 'warning', rule: 'room-hot' } });
      current.channel.deliver(a);
      current.channel.deliver(b);
      await waitFor(async () => (await current!.observed()).length >= 2, {
        what: `${harness.name} both alerts`,
      });
      const seen = await current.observed();
      expect(seen).toContainEqual({ id: a.alert.id, state: 'raised' });
      expect(seen).toContainEqual({ id: b.alert.id, state: 'escalated' });
    });

    it('flushes on close: everything delivered before close has reached the peer when close resolves', async () => {
      current = await harness.create();
      const ids = Array.from({ length: 20 }, (_, i) => `flush-${counter + 1}-${i}`);
      for (const id of ids) current.channel.deliver(sampleTransition({ id }));
      await current.channel.close();
      // Some peers (InfluxDB, SSE clients) make what they got visible a moment after the channel let go.
      const allSeen = async () => {
        const seen = new Set((await current!.observed()).map((o) => o.id));
        return ids.every((id) => seen.has(id));
      };
      await waitFor(allSeen, {
        timeoutMs: 5_000,
        what: `${harness.name} peer to hold all flushed alerts`,
      });
      expect(await allSeen()).toBe(true);
    });

    it('never throws and never blocks the caller while the peer is broken, and still closes', async () => {
      current = await harness.create();
      await current.breakPeer();
      // `deliver` is synchronous and returns nothing to wait on: it cannot hold the caller for a peer.
      for (let i = 0; i < 200; i++) {
        let returned: unknown = 'not called';
        expect(() => {
          returned = current!.channel.deliver(sampleTransition({}));
        }).not.toThrow();
        expect(returned).toBeUndefined();
      }
      // Bounded by the channel's own close timeout; the test's timeout catches a close that never ends.
      await expect(current.channel.close()).resolves.toBeUndefined();
    });

    it('ignores deliveries after close without throwing', async () => {
      current = await harness.create();
      await current.channel.close();
      expect(() => current!.channel.deliver(sampleTransition({}))).not.toThrow();
      await expect(current.channel.close()).resolves.toBeUndefined();
    });
  });
}
