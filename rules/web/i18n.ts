import type { AlertTransitionKind } from '../../protocol/alerts.ts';
import type { AlertState, Locale, Posture, RuleId, Severity } from '../../protocol/payloads.ts';

/**
 * The one string catalogue of the caregiver page, also used for webhook labels, so a word is translated
 * once. Keys are typed: a string missing from one language fails `tsc`.
 */
const zh = {
  title: '婴儿室看护',
  loginPrompt: '请粘贴访问令牌',
  loginButton: '登录',
  logout: '退出',
  tokenLabel: '访问令牌',
  badToken: '令牌无效',
  language: 'English',
  languageLabel: '切换语言',
  center: '中心',
  room: '房间',
  rooms: '房间',
  openAlerts: '当前警报',
  noAlerts: '没有未处理的警报',
  acknowledge: '确认',
  resolve: '解除',
  acknowledgedBy: '已确认：',
  raisedAt: '发生于',
  napping: '午睡中',
  awake: '未午睡',
  startNap: '开始午睡',
  endNap: '结束午睡',
  napSince: '午睡开始',
  noInfants: '没有登记的婴儿',
  lastReading: '上次读数',
  never: '从未',
  secondsAgo: '秒前',
  minutesAgo: '分钟前',
  skinTemp: '皮肤温度',
  worn: '佩戴中',
  notWorn: '未佩戴',
  battery: '电量',
  roomTemp: '室温',
  humidity: '湿度',
  stale: '数据可能已过时，正在重新连接…',
  delayedBy: '数据延迟',
  seconds: '秒',
  staleSince: '最后更新',
  live: '实时',
  soundOff: '点击启用警报声音',
  checks: '午睡巡查记录',
  checkTime: '时间',
  infant: '婴儿',
  posture: '睡姿',
  motion: '活动',
  alertsCount: '警报数',
  confirmedBy: '确认人',
  confirmedAt: '确认时间',
  confirm: '确认巡查',
  unconfirmed: '未确认',
  day: '日期',
  downloadCsv: '下载 CSV',
  printSheet: '打印记录',
  back: '返回',
  noChecks: '当天没有巡查记录',
  sheetTitle: '午睡巡查记录表',
  error: '操作失败',
  supervisor: '主管',
  caregiver: '保育员',
  escalated: '已上报主管',
  reminders: '次提醒',
} as const;

type Catalogue = { [K in keyof typeof zh]: string };

const en: Catalogue = {
  title: 'Infant room watch',
  loginPrompt: 'Paste your access token',
  loginButton: 'Log in',
  logout: 'Log out',
  tokenLabel: 'Access token',
  badToken: 'Token not accepted',
  language: '中文',
  languageLabel: 'Switch language',
  center: 'Centre',
  room: 'Room',
  rooms: 'Rooms',
  openAlerts: 'Open alerts',
  noAlerts: 'No open alerts',
  acknowledge: 'Acknowledge',
  resolve: 'Resolve',
  acknowledgedBy: 'Acknowledged by ',
  raisedAt: 'Raised',
  napping: 'Napping',
  awake: 'Not napping',
  startNap: 'Start nap',
  endNap: 'End nap',
  napSince: 'Nap since',
  noInfants: 'No infants registered',
  lastReading: 'Last reading',
  never: 'never',
  secondsAgo: 's ago',
  minutesAgo: 'min ago',
  skinTemp: 'Skin temp',
  worn: 'worn',
  notWorn: 'not worn',
  battery: 'Battery',
  roomTemp: 'Room',
  humidity: 'Humidity',
  stale: 'Data may be out of date, reconnecting…',
  delayedBy: 'Data delayed by',
  seconds: 's',
  staleSince: 'last update',
  live: 'Live',
  soundOff: 'Tap to enable alarm sound',
  checks: 'Nap-check log',
  checkTime: 'Time',
  infant: 'Infant',
  posture: 'Posture',
  motion: 'Motion',
  alertsCount: 'Alerts',
  confirmedBy: 'Confirmed by',
  confirmedAt: 'Confirmed at',
  confirm: 'Confirm check',
  unconfirmed: 'unconfirmed',
  day: 'Day',
  downloadCsv: 'Download CSV',
  printSheet: 'Print sheet',
  back: 'Back',
  noChecks: 'No checks recorded that day',
  sheetTitle: 'Nap-check sheet',
  error: 'Action failed',
  supervisor: 'Supervisor',
  caregiver: 'Caregiver',
  escalated: 'escalated to supervisors',
  reminders: 'notifications',
};

export type TextKey = keyof typeof zh;

const severities: Record<Locale, Record<Severity, string>> = {
  'zh-CN': { critical: '严重', warning: '警告', info: '提示' },
  en: { critical: 'Critical', warning: 'Warning', info: 'Info' },
};

const rules: Record<Locale, Record<RuleId, string>> = {
  'zh-CN': {
    'prone-sleep': '趴睡',
    'no-movement': '无活动',
    'side-sleep': '侧睡',
    'room-hot': '室温过高',
    'room-cold': '室温过低',
    humidity: '湿度异常',
    'skin-temp-rise': '皮肤温度升高',
    'one-key-alarm': '一键报警',
    'wearable-off': '穿戴设备脱落',
    'monitoring-lost': '监测中断',
    'low-battery': '电量低',
  },
  en: {
    'prone-sleep': 'Prone sleep',
    'no-movement': 'No movement',
    'side-sleep': 'Side sleep',
    'room-hot': 'Room too hot',
    'room-cold': 'Room too cold',
    humidity: 'Humidity',
    'skin-temp-rise': 'Skin temperature rise',
    'one-key-alarm': 'One-key alarm',
    'wearable-off': 'Wearable off',
    'monitoring-lost': 'Monitoring lost',
    'low-battery': 'Low battery',
  },
};

const postures: Record<Locale, Record<Posture, string>> = {
  'zh-CN': { supine: '仰睡', prone: '趴睡', side: '侧睡', upright: '直立', unknown: '未知' },
  en: { supine: 'on back', prone: 'prone', side: 'on side', upright: 'upright', unknown: 'unknown' },
};

const states: Record<Locale, Record<AlertState, string>> = {
  'zh-CN': { raised: '未处理', acknowledged: '已确认', escalated: '已上报', resolved: '已解除' },
  en: { raised: 'open', acknowledged: 'acknowledged', escalated: 'escalated', resolved: 'resolved' },
};

const transitions: Record<Locale, Record<AlertTransitionKind, string>> = {
  'zh-CN': {
    raised: '新警报',
    updated: '警报更新',
    renotified: '再次提醒',
    escalated: '上报主管',
    acknowledged: '已确认',
    resolved: '已解除',
  },
  en: {
    raised: 'New alert',
    updated: 'Alert updated',
    renotified: 'Reminder',
    escalated: 'Escalated',
    acknowledged: 'Acknowledged',
    resolved: 'Resolved',
  },
};

export const catalogue: Record<Locale, Catalogue> = { 'zh-CN': zh, en };

export interface Texts {
  locale: Locale;
  t(key: TextKey): string;
  severity(severity: Severity): string;
  rule(rule: RuleId): string;
  posture(posture: Posture): string;
  state(state: AlertState): string;
  transition(kind: AlertTransitionKind): string;
}

export function texts(locale: Locale): Texts {
  return {
    locale,
    t: (key) => catalogue[locale][key],
    severity: (s) => severities[locale][s],
    rule: (r) => rules[locale][r] ?? r,
    posture: (p) => postures[locale][p],
    state: (s) => states[locale][s],
    transition: (k) => transitions[locale][k],
  };
}
