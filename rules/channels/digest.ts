import type { AlertTransition, AlertTransitionKind } from '../../protocol/alerts.ts';
import { type Alert, type Locale, SEVERITIES } from '../../protocol/payloads.ts';

/** What one webhook request carries: one transition, or several coalesced into a digest. */
export type Outgoing =
  | { type: 'single'; transitions: [AlertTransition] }
  | { type: 'digest'; transitions: AlertTransition[] };

const isReminder = (t: AlertTransition) => t.kind === 'renotified';

/** The earliest queued transition of `t`'s alert, so one alert's transitions always go out in order. */
function firstOf(queue: readonly AlertTransition[], t: AlertTransition): AlertTransition {
  return queue.find((q) => q.alert.id === t.alert.id)!;
}

/**
 * Picks the next request for a queue when `budget` more requests may be sent now (at least 1):
 * - everything fits: the oldest transition, so a target sees transitions in their order (seq);
 * - it does not: a critical transition that is not a reminder still goes alone while a request is left
 *   for the digest after it; everything else is coalesced into one digest request, critical first.
 * A digest takes the whole queue (the caller trims it to what the target accepts in one message), so each
 * request moves the queue forward and a target's budget is never exceeded to catch up.
 */
export function nextOutgoing(queue: readonly AlertTransition[], budget: number): Outgoing {
  if (queue.length <= budget) return { type: 'single', transitions: [queue[0]!] };
  if (budget >= 2) {
    const urgent = queue.find((t) => t.alert.severity === 'critical' && !isReminder(t));
    if (urgent) return { type: 'single', transitions: [firstOf(queue, urgent)] };
  }
  return { type: 'digest', transitions: [...queue] };
}

/** One line of a digest: an alert's latest state and how many transitions of each kind it stands for. */
export interface DigestGroup {
  alert: Alert;
  kinds: [AlertTransitionKind, number][];
  transitions: AlertTransition[];
}

/** Transitions grouped per alert, most severe alert first, then in the order they were queued. */
export function digestGroups(transitions: readonly AlertTransition[]): DigestGroup[] {
  const groups = new Map<string, DigestGroup & { first: number }>();
  for (const t of transitions) {
    const group = groups.get(t.alert.id);
    if (!group) {
      groups.set(t.alert.id, { alert: t.alert, kinds: [[t.kind, 1]], transitions: [t], first: t.seq });
      continue;
    }
    group.alert = t.alert;
    group.transitions.push(t);
    const kind = group.kinds.find(([k]) => k === t.kind);
    if (kind) kind[1]++;
    else group.kinds.push([t.kind, 1]);
  }
  return [...groups.values()]
    .sort(
      (a, b) =>
        SEVERITIES.indexOf(b.alert.severity) - SEVERITIES.indexOf(a.alert.severity) || a.first - b.first,
    )
    .map(({ first: _first, ...group }) => group);
}

const words = {
  'zh-CN': {
    heading: (n: number, alerts: number) => `警报汇总：${alerts} 个警报，${n} 条通知`,
    why: '发送频率已达机器人上限，提醒已合并；详情见看护页面。',
  },
  en: {
    heading: (n: number, alerts: number) => `Digest: ${n} notifications on ${alerts} alerts`,
    why: 'The robot’s message limit was reached, so reminders were merged; details on the caregiver page.',
  },
} satisfies Record<Locale, { heading: (n: number, alerts: number) => string; why: string }>;

export function digestWords(locale: Locale) {
  return words[locale];
}
