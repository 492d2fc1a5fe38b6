import type { FleetIndex } from '../../protocol/fleet.ts';
import { type Alert, LOCALES, type Locale } from '../../protocol/payloads.ts';

interface TextContext {
  /** Room name in the locale, falling back to the registry's `name`. */
  room: string;
  /** The infant as shown: the pseudonymous id, or `name (A-07)` on in-centre channels. */
  who: string;
  device: string;
  /** The alert value, rounded for display. */
  v: string;
  /** The devices a room or centre alert names, comma-separated. */
  devices: string;
}

type Template = (c: TextContext) => string;

/**
 * One sentence per rule and locale, keyed by rule id (a rule of the registry brings its own entry here).
 * Rooms are named like `2 号睡眠室` / `nap room 2` in the registry.
 */
export const TEMPLATES: Record<string, Record<Locale, Template>> = {
  'prone-sleep': {
    'zh-CN': (c) => `${c.room} ${c.who} 趴睡已 ${c.v} 秒`,
    en: (c) => `Infant ${c.who} in ${c.room} has been prone for ${c.v} s`,
  },
  'no-movement': {
    'zh-CN': (c) => `${c.room} ${c.who} 已 ${c.v} 秒无体动`,
    en: (c) => `Infant ${c.who} in ${c.room} has not moved for ${c.v} s`,
  },
  'side-sleep': {
    'zh-CN': (c) => `${c.room} ${c.who} 侧睡已 ${c.v} 秒`,
    en: (c) => `Infant ${c.who} in ${c.room} has slept on their side for ${c.v} s`,
  },
  'room-hot': {
    'zh-CN': (c) => `${c.room} 室温过高：${c.v} °C`,
    en: (c) => `${c.room} is too hot: ${c.v} °C`,
  },
  'room-cold': {
    'zh-CN': (c) => `${c.room} 室温过低：${c.v} °C`,
    en: (c) => `${c.room} is too cold: ${c.v} °C`,
  },
  humidity: {
    'zh-CN': (c) => `${c.room} 湿度异常：${c.v}%`,
    en: (c) => `Humidity in ${c.room} is out of range: ${c.v} %`,
  },
  'skin-temp-rise': {
    'zh-CN': (c) => `${c.room} ${c.who} 皮温升高至 ${c.v} °C，请测量体温`,
    en: (c) =>
      `Skin temperature of infant ${c.who} in ${c.room} is up to ${c.v} °C: take a proper temperature reading`,
  },
  'one-key-alarm': {
    'zh-CN': (c) => `${c.room} 一键报警（${c.device}）`,
    en: (c) => `One-key alarm pressed in ${c.room} (${c.device})`,
  },
  'wearable-off': {
    'zh-CN': (c) => `${c.room} ${c.who} 的穿戴设备未佩戴`,
    en: (c) => `The wearable of infant ${c.who} in ${c.room} is off`,
  },
  'monitoring-lost': {
    'zh-CN': (c) => `${c.room} ${c.who} 监测中断已 ${c.v} 秒`,
    en: (c) => `Monitoring of infant ${c.who} in ${c.room} lost for ${c.v} s`,
  },
  'co2-high': {
    'zh-CN': (c) => `${c.room} 午睡中二氧化碳过高：${c.v} ppm，请通风`,
    en: (c) => `CO₂ in ${c.room} is too high during the nap: ${c.v} ppm, air the room`,
  },
  'room-silent': {
    'zh-CN': (c) => `${c.room} ${c.v} 个穿戴设备同时中断（${c.devices}），请检查网关或网络`,
    en: (c) =>
      `${c.v} wearables in ${c.room} went silent together (${c.devices}): check the gateway or network`,
  },
  'center-silent': {
    'zh-CN': (c) => `${c.who} 园区 ${c.v} 个穿戴设备同时中断（${c.devices}），请检查园区网络`,
    en: (c) =>
      `${c.v} wearables of centre ${c.who} went silent together (${c.devices}): check the centre's network`,
  },
  'monitoring-degraded': {
    'zh-CN': (c) => `监测降级：${c.who} 的数据延迟 ${c.v} 秒`,
    en: (c) => `Monitoring degraded: data from centre ${c.who} is delayed by ${c.v} s`,
  },
  'low-battery': {
    'zh-CN': (c) => `${c.room} 设备 ${c.device} 电量低：${c.v}%`,
    en: (c) => `Battery of device ${c.device} in ${c.room} is low: ${c.v} %`,
  },
};

type AlertFields = Pick<Alert, 'rule' | 'room' | 'subject' | 'value' | 'devices'>;

/** A rule without a sentence still names itself, its room and subject: an alert is never lost for its text. */
function template(rule: string, locale: Locale): Template {
  const own = TEMPLATES[rule];
  if (own) return own[locale];
  return (c) => `${c.room} ${rule} ${c.who} ${c.v}`.trim();
}

/** The pseudonymous label caregivers see on the wall chart: the registry id in capitals (a-07 → A-07). */
export function infantLabel(id: string): string {
  return id.toUpperCase();
}

function context(alert: AlertFields, fleet: FleetIndex, locale: Locale, withNames: boolean): TextContext {
  const room = alert.room ? fleet.rooms.get(alert.room) : undefined;
  const roomName = room ? (locale === 'zh-CN' ? (room.nameZh ?? room.name) : room.name) : (alert.room ?? '?');
  const label = infantLabel(alert.subject.id);
  const infant = alert.subject.kind === 'infant' ? fleet.infants.get(alert.subject.id) : undefined;
  const v = alert.value === undefined ? '' : String(Math.round(alert.value * 10) / 10);
  return {
    room: roomName,
    who: withNames && infant ? `${infant.displayName} (${label})` : label,
    device: alert.subject.id,
    v,
    devices: (alert.devices ?? []).join(', '),
  };
}

/**
 * The alert's `message` in every locale. Name-free: it travels on MQTT and into InfluxDB, where docs/design.md
 * allows no infant name.
 */
export function renderMessage(alert: AlertFields, fleet: FleetIndex): Record<Locale, string> {
  return Object.fromEntries(
    LOCALES.map((locale) => [locale, template(alert.rule, locale)(context(alert, fleet, locale, false))]),
  ) as Record<Locale, string>;
}

/**
 * One alert's text for a channel. `withNames` adds the infant's display name from the registry, for
 * channels that stay inside the centre (the caregiver page, an in-centre webhook).
 */
export function renderAlertText(
  alert: AlertFields,
  fleet: FleetIndex,
  options: { withNames: boolean; locale?: Locale },
): string {
  const locale = options.locale ?? 'zh-CN';
  return template(alert.rule, locale)(context(alert, fleet, locale, options.withNames));
}
