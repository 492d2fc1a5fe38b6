import type { Alert, Posture } from '../protocol/payloads.ts';

/**
 * What the caregiver page's HTTP layer (rules/http) needs from the rules service besides alerts
 * (protocol/alerts.ts AlertService): the live board, nap sessions and the nap-check log.
 */
export interface InfantBoardEntry {
  infant: string;
  /** From the registry; only ever sent to in-centre clients. */
  displayName: string;
  device?: string;
  posture?: Posture;
  skinTempC?: number;
  motion?: number;
  worn?: boolean;
  battery?: number;
  /** Device time of the last reading; undefined when the wearable never reported. */
  lastReadingAt?: number;
}

export interface RoomBoard {
  center: string;
  room: string;
  name: string;
  nameZh?: string;
  napping: boolean;
  napStartedAt?: number;
  tempC?: number;
  humidity?: number;
  infants: InfantBoardEntry[];
  openAlerts: Alert[];
  /** Set while the centre's data reaches the rules late (monitoring degraded): "data delayed by N s". */
  dataDelayedS?: number;
}

export interface NapCheckRecord {
  id: string;
  center: string;
  room: string;
  infant: string;
  /** Device time the check was due/made. */
  at: number;
  posture?: Posture;
  motion?: number;
  skinTempC?: number;
  openAlerts: number;
  /** Who confirmed it in person, and when; absent for an automatic record not yet confirmed. */
  confirmedBy?: string;
  confirmedAt?: number;
}

export interface BoardService {
  rooms(center: string): RoomBoard[];
  /** Publishes the nap state on cw/v1/{center}/rooms/{room}/nap (retained); the engine follows it. */
  setNap(center: string, room: string, state: 'started' | 'ended', by: string): Promise<void>;
  /** Check records of one room for the local calendar day `day` (YYYY-MM-DD, centre timezone). */
  napChecks(center: string, room: string, day: string): NapCheckRecord[];
  confirmCheck(center: string, checkId: string, by: string): NapCheckRecord | undefined;
  subscribe(listener: (event: BoardEvent) => void): () => void;
}

/** What the caregiver page hears of: a centre's board changed, or a nap check was recorded or confirmed. */
export type BoardEvent = { type: 'board'; center: string } | { type: 'nap-check'; record: NapCheckRecord };
