import type { AlertTransition } from '../../protocol/alerts.ts';
import { type Locale, SEVERITIES } from '../../protocol/payloads.ts';
import { texts } from '../web/i18n.ts';
import { digestGroups, digestWords } from './digest.ts';
import type { AlertText, WebhookConfig } from './webhook-config.ts';

/** The most a robot takes in one markdown message: WeCom 4,096 bytes of content, DingTalk 20,000. */
const MAX_BYTES = { json: 1_000_000, wecom: 4_000, dingtalk: 18_000 } as const;

function formatTime(ms: number, locale: Locale): string {
  return new Date(ms).toLocaleString(locale === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
}

/** A WeCom or DingTalk robot markdown message; `details` are quoted under the body. */
function robotBody(
  config: WebhookConfig,
  heading: string,
  body: string[],
  details: string[],
  emphasis: { warn: boolean; atAll: boolean },
): unknown {
  if (config.format === 'wecom') {
    // WeCom markdown knows three font colours: info (green), comment (grey), warning (orange-red).
    const colour = emphasis.warn ? 'warning' : 'info';
    return {
      msgtype: 'markdown',
      markdown: {
        content: [
          `**<font color="${colour}">${heading}</font>**`,
          ...body,
          ...details.map((l) => `> ${l}`),
        ].join('\n'),
      },
    };
  }
  return {
    msgtype: 'markdown',
    markdown: {
      title: heading,
      text: [`#### ${heading}`, ...body, '', ...details.map((l) => `> ${l}  `)].join('\n'),
    },
    at: { isAtAll: emphasis.atAll },
  };
}

/** A transition that should wake people: a critical alert that is new, worse, escalated or still open. */
const calls = (t: AlertTransition) =>
  t.alert.severity === 'critical' && t.kind !== 'resolved' && t.kind !== 'acknowledged';

/** The request body a webhook of `format` expects for one transition. */
export function webhookBody(config: WebhookConfig, transition: AlertTransition, text: AlertText): unknown {
  const { alert } = transition;
  const body = text(alert, config.locale, config.includeNames);
  if (config.format === 'json') {
    return {
      kind: transition.kind,
      seq: transition.seq,
      at: transition.at,
      audience: transition.audience,
      alert,
      text: body,
    };
  }
  const tx = texts(config.locale);
  const heading = `[${tx.severity(alert.severity)}] ${tx.rule(alert.rule)} · ${tx.transition(transition.kind)}`;
  const details = [
    `${tx.t('center')}: ${alert.center}${alert.room ? ` / ${tx.t('room')}: ${alert.room}` : ''}`,
    `${tx.t('raisedAt')}: ${formatTime(alert.raisedAt, config.locale)}`,
    ...(alert.acknowledgedBy ? [`${tx.t('acknowledgedBy')}${alert.acknowledgedBy}`] : []),
  ];
  return robotBody(config, heading, [body], details, {
    warn: alert.severity !== 'info' && transition.kind !== 'resolved',
    atAll: calls(transition),
  });
}

/**
 * A digest request: one line per alert (its latest state, and what it stands for: "Reminder ×3"), most
 * severe first, as many alerts as the target takes in one message. Returns the body and the transitions it
 * carries; the others stay queued for the next request.
 */
export function digestBody(
  config: WebhookConfig,
  queued: readonly AlertTransition[],
  text: AlertText,
): { body: unknown; transitions: AlertTransition[] } {
  const tx = texts(config.locale);
  const words = digestWords(config.locale);
  const carried: AlertTransition[] = [];
  const lines: string[] = [];
  let bytes = 600;
  for (const group of digestGroups(queued)) {
    const { alert } = group;
    const kinds = group.kinds.map(([k, n]) => (n > 1 ? `${tx.transition(k)} ×${n}` : tx.transition(k)));
    const line = `- [${tx.severity(alert.severity)}] ${tx.rule(alert.rule)} · ${kinds.join(', ')}: ${text(alert, config.locale, config.includeNames)}`;
    const size =
      config.format === 'json'
        ? Buffer.byteLength(JSON.stringify(group.transitions))
        : Buffer.byteLength(line);
    if (carried.length > 0 && bytes + size > MAX_BYTES[config.format]) break;
    bytes += size;
    lines.push(line);
    carried.push(...group.transitions);
  }
  const alerts = new Set(carried.map((t) => t.alert.id)).size;
  const heading = words.heading(carried.length, alerts);
  if (config.format === 'json') {
    return {
      body: { kind: 'digest', transitions: carried, text: [heading, ...lines].join('\n') },
      transitions: carried,
    };
  }
  const top = carried.reduce((a, t) => Math.max(a, SEVERITIES.indexOf(t.alert.severity)), 0);
  const body = robotBody(config, `[${tx.severity(SEVERITIES[top]!)}] ${heading}`, lines, [words.why], {
    warn: top > 0,
    atAll: carried.some(calls),
  });
  return { body, transitions: carried };
}
