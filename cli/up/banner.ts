import type { Storage } from './storage.ts';

export interface BannerInfo {
  pageUrl: string;
  caregiverToken?: string | undefined;
  supervisorToken?: string | undefined;
  mqttUrl: string;
  /** Where /metrics and /healthz answer for every service of the process. */
  opsUrl: string;
  storage: Storage;
  spoolDir: string;
  demo: boolean;
}

/** What runs where, in a block a newcomer can read at a glance. */
export function renderBanner(info: BannerInfo): string {
  const storage =
    info.storage.kind === 'spool'
      ? `none: no InfluxDB configured and no influxd on PATH. Readings are being spooled to ${info.spoolDir}\n                and will be written the first time InfluxDB answers at ${info.storage.conn.url} (set CW_INFLUX_URL).`
      : `${info.storage.conn.url} (${info.storage.kind === 'embedded' ? `private influxd, data in ${info.storage.server.dataDir}` : 'configured'}; database/bucket ${info.storage.conn.api === 'v1' ? info.storage.conn.database : info.storage.conn.bucket})`;
  const lines = [
    '',
    '  cradlewatch is running',
    '',
    `  Caregiver page  ${info.pageUrl}${info.caregiverToken ? `/?token=${info.caregiverToken}` : ''}`,
    ...(info.caregiverToken ? [`  Caregiver token ${info.caregiverToken}  (centre c1)`] : []),
    ...(info.supervisorToken ? [`  Supervisor token ${info.supervisorToken}  (all centres)`] : []),
    `  MQTT broker     ${info.mqttUrl}`,
    `  InfluxDB        ${storage}`,
    `  Metrics         ${info.opsUrl}/metrics  (broker, ingest and rules; health at ${info.opsUrl}/healthz)`,
    ...(info.demo
      ? [
          '',
          '  Demo: 1 centre, 3 rooms, 12 infants: an alarm press at 15 s, a prone roll-over at 30 s (alert at 60 s), room 2 past 28 °C from minute 3.',
        ]
      : []),
    '  Ctrl-C stops everything.',
    '',
  ];
  return lines.join('\n');
}
