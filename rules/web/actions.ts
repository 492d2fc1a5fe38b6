import type { Locale } from '../../protocol/payloads.ts';
import { Api, ApiError } from './api.ts';
import { h } from './dom.ts';
import { texts } from './i18n.ts';
import type { Alarm } from './sound.ts';
import { applyAnswer, applySnapshot, applyTransition, type Store } from './state.ts';
import { AlertStream } from './stream.ts';

export const TOKEN_KEY = 'cradlewatch.token';
export const LOCALE_KEY = 'cradlewatch.locale';
const CENTER_KEY = 'cradlewatch.center';
/** Readings have no stream of their own: the board is polled for them. */
const BOARD_REFRESH_MS = 5_000;
/** Alerts come from the stream; a full list is fetched on every (re)connect and this often as a safety net. */
const ALERTS_RESYNC_MS = 60_000;
/** A burst of board events (an alert storm) costs one board fetch. */
const BOARD_EVENT_DELAY_MS = 150;

/** Everything a caregiver can do on the page, and the page keeping itself current. */
export class Session {
  private readonly stream: AlertStream;
  private boardQueued: number | undefined;

  constructor(
    private readonly store: Store,
    private readonly alarm: Alarm,
  ) {
    this.stream = new AlertStream({
      open: () => {
        store.update((s) => {
          s.streamOpen = true;
        });
        void this.resync();
      },
      closed: () =>
        store.update((s) => {
          s.streamOpen = false;
        }),
      transition: (transition) => {
        const { alert, kind } = transition;
        if (alert.severity !== 'critical' && (kind === 'raised' || kind === 'renotified')) alarm.chime();
        store.update((s) => applyTransition(s, transition));
      },
      board: () => this.queueBoardRefresh(),
      napCheck: (record) => {
        this.queueBoardRefresh();
        const sheet = store.state.sheet;
        if (sheet?.room === record.room) void this.openSheet(sheet.room, sheet.day);
      },
    });
  }

  private get state() {
    return this.store.state;
  }

  /** Runs the periodic refreshes; the stream does the rest. */
  start(): void {
    window.setInterval(() => void this.refreshBoard(), BOARD_REFRESH_MS);
    window.setInterval(() => void this.resyncAlerts(), ALERTS_RESYNC_MS);
  }

  async login(token: string): Promise<void> {
    const api = new Api(token);
    try {
      const me = await api.me();
      if (me.role === 'supervisor') {
        const saved = localStorage.getItem(CENTER_KEY);
        api.setCenter(me.centers.find((c) => c.id === saved)?.id ?? me.centers[0]?.id ?? null);
      }
      localStorage.setItem(TOKEN_KEY, token);
      this.store.update((s) => {
        if (!localStorage.getItem(LOCALE_KEY)) s.locale = me.defaultLocale;
        Object.assign(s, { api, me, loginError: undefined });
      });
      this.stream.connect(api, () => this.state.lastSeq);
      await this.refreshBoard();
    } catch (error) {
      const message =
        error instanceof ApiError && error.status === 401
          ? texts(this.state.locale).t('badToken')
          : (error as Error).message;
      this.store.update((s) => {
        s.loginError = message;
      });
    }
  }

  logout(message?: string): void {
    localStorage.removeItem(TOKEN_KEY);
    this.stream.close();
    this.alarm.stop();
    this.store.update((s) => {
      Object.assign(s, { api: undefined, me: undefined, board: undefined, sheet: undefined });
      this.forgetAlerts();
      s.loginError = message;
    });
  }

  private forgetAlerts(): void {
    this.state.alerts = new Map();
    this.state.alertSeq = new Map();
    this.state.lastSeq = undefined;
  }

  switchCenter(id: string): void {
    const api = this.state.api;
    if (!api) return;
    localStorage.setItem(CENTER_KEY, id);
    api.setCenter(id);
    this.store.update((s) => {
      s.sheet = undefined;
      this.forgetAlerts();
    });
    this.stream.connect(api, () => this.state.lastSeq);
    void this.refreshBoard();
  }

  setLocale(locale: Locale): void {
    localStorage.setItem(LOCALE_KEY, locale);
    this.store.update((s) => {
      s.locale = locale;
    });
  }

  private async guarded(call: (api: Api) => Promise<void>): Promise<void> {
    const api = this.state.api;
    if (!api) return;
    try {
      await call(api);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401)
        return this.logout(texts(this.state.locale).t('badToken'));
      throw error;
    }
  }

  refreshBoard(): Promise<void> {
    return this.guarded(async (api) => {
      const board = await api.board();
      this.store.update((s) => {
        s.board = board;
        s.boardAt = Date.now();
      });
    }).catch(() => undefined);
  }

  private resyncAlerts(): Promise<void> {
    return this.guarded(async (api) => {
      const seqAtRequest = this.state.lastSeq ?? 0;
      const { alerts } = await api.alerts();
      this.store.update((s) => applySnapshot(s, alerts, seqAtRequest));
    }).catch(() => undefined);
  }

  private async resync(): Promise<void> {
    await Promise.all([this.resyncAlerts(), this.refreshBoard()]);
  }

  private queueBoardRefresh(): void {
    if (this.boardQueued !== undefined) return;
    this.boardQueued = window.setTimeout(() => {
      this.boardQueued = undefined;
      void this.refreshBoard();
    }, BOARD_EVENT_DELAY_MS);
  }

  /** A caregiver's action: its failure is shown in a banner instead of thrown. */
  private async act(call: (api: Api) => Promise<void>): Promise<void> {
    this.store.update((s) => {
      s.error = undefined;
    });
    try {
      await this.guarded(call);
    } catch (error) {
      const message = `${texts(this.state.locale).t('error')}: ${(error as Error).message}`;
      this.store.update((s) => {
        s.error = message;
      });
    }
  }

  acknowledge = (id: string) =>
    this.act(async (api) => {
      const { alert } = await api.ack(id);
      this.store.update((s) => applyAnswer(s, alert));
    });

  resolve = (id: string) =>
    this.act(async (api) => {
      const { alert } = await api.resolve(id);
      this.store.update((s) => applyAnswer(s, alert));
    });

  toggleNap = (room: string, napping: boolean) =>
    this.act(async (api) => {
      await api.nap(room, napping ? 'ended' : 'started');
      await this.refreshBoard();
    });

  openSheet = (room: string, day?: string) =>
    this.act(async (api) => {
      const result = await api.checks(room, day);
      this.store.update((s) => {
        s.sheet = { room, day: result.day, records: result.records };
      });
    });

  closeSheet = () =>
    this.store.update((s) => {
      s.sheet = undefined;
    });

  confirmCheck = (id: string) =>
    this.act(async (api) => {
      await api.confirm(id);
      const sheet = this.state.sheet;
      if (sheet) await this.openSheet(sheet.room, sheet.day);
    });

  downloadCsv = (room: string, day: string) =>
    this.act(async (api) => {
      const response = await api.csv(room, day);
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: `nap-checks-${room}-${day}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });

  unlockSound = () => {
    this.alarm.unlock();
    // The AudioContext reports `running` a moment after the tap.
    window.setTimeout(() => this.store.update(() => undefined), 100);
  };
}
