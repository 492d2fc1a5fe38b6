import type { FleetIndex } from '../../protocol/fleet.ts';
import type { NapCheckRecord } from '../contracts.ts';

/** `YYYY-MM-DD HH:mm:ss` in the centre's timezone (the sv-SE locale formats exactly so). */
export function localDateTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  }).format(ms);
}

export function localDay(ms: number, timeZone: string): string {
  return localDateTime(ms, timeZone).slice(0, 10);
}

export const CSV_COLUMNS = [
  'time',
  'room',
  'infant',
  'name',
  'posture',
  'motion',
  'skin_temp_c',
  'open_alerts',
  'confirmed_by',
  'confirmed_at',
] as const;

/**
 * RFC 4180 quoting, and a leading apostrophe on anything a spreadsheet would run as a formula: a display
 * name is typed by staff, and the sheet is opened in Excel or WPS.
 */
function cell(value: string | number | undefined): string {
  if (value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The day's nap-check sheet of one room; the BOM makes Excel read the UTF-8 Chinese correctly. */
export function checksCsv(records: NapCheckRecord[], fleet: FleetIndex, timeZone: string): string {
  const rows = [...records]
    .sort((a, b) => a.at - b.at || a.infant.localeCompare(b.infant))
    .map((r) =>
      [
        localDateTime(r.at, timeZone),
        r.room,
        r.infant,
        fleet.infants.get(r.infant)?.displayName,
        r.posture,
        r.motion,
        r.skinTempC,
        r.openAlerts,
        r.confirmedBy,
        r.confirmedAt === undefined ? undefined : localDateTime(r.confirmedAt, timeZone),
      ]
        .map(cell)
        .join(','),
    );
  return `\ufeff${[CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}
