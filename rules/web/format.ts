import type { Center } from '../../protocol/fleet.ts';
import type { Locale } from '../../protocol/payloads.ts';
import type { InfantBoardEntry, RoomBoard } from '../contracts.ts';
import { type Texts, texts } from './i18n.ts';
import type { State } from './state.ts';

/** The words, times and names of the page in the caregiver's language and the centre's time zone. */
export interface Format extends Texts {
  age(ms: number | undefined): string;
  clock(ms: number): string;
  roomName(room: RoomBoard | undefined, id: string | undefined): string;
  centerName(center: Center | undefined): string;
  center: Center | undefined;
  infant(id: string): InfantBoardEntry | undefined;
}

export function ageText(locale: Locale): (ms: number | undefined) => string {
  const t = texts(locale);
  return (ms) => {
    if (ms === undefined) return t.t('never');
    const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return seconds < 120
      ? `${seconds} ${t.t('secondsAgo')}`
      : `${Math.round(seconds / 60)} ${t.t('minutesAgo')}`;
  };
}

export function format(state: State): Format {
  const { locale, me, board } = state;
  const center = me?.centers.find((c) => c.id === board?.center) ?? me?.centers[0];
  const zh = locale === 'zh-CN';
  return {
    ...texts(locale),
    center,
    age: ageText(locale),
    // Times read as the centre's wall clock, wherever the tablet's own clock is set.
    clock: (ms) =>
      new Date(ms).toLocaleTimeString(zh ? 'zh-CN' : 'en-GB', { hour12: false, timeZone: center?.timezone }),
    roomName: (room, id) => (room ? (zh && room.nameZh ? room.nameZh : room.name) : (id ?? '')),
    centerName: (c) => (c ? (zh && c.nameZh ? c.nameZh : c.name) : ''),
    infant: (id) => {
      for (const room of board?.rooms ?? []) {
        const found = room.infants.find((i) => i.infant === id || i.device === id);
        if (found) return found;
      }
      return undefined;
    },
  };
}
