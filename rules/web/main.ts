import type { Alert, Locale } from '../../protocol/payloads.ts';
import type { InfantBoardEntry, NapCheckRecord, RoomBoard } from '../contracts.ts';
import { Api, ApiError, type AlertTransition, type BoardResponse, type Me } from './api.ts';
import { h } from './dom.ts';
import { texts, type Texts } from './i18n.ts';
import { Alarm } from './sound.ts';

const TOKEN_KEY = 'cradlewatch.token';
const LOCALE_KEY = 'cradlewatch.locale';
const CENTER_KEY = 'cradlewatch.center';
/** Past this without a good board refresh or with the stream down, the page says its data may be old. */
const STALE_AFTER_MS = 12_000;
const BOARD_REFRESH_MS = 5_000;

const severityRank = { info: 0, warning: 1, critical: 2 } as const;

interface State {
  api?: Api;
  me?: Me;
  locale: Locale;
  board?: BoardResponse;
  boardAt: number;
  alerts: Map<string, Alert>;
  lastSeq?: number;
  streamOpen: boolean;
  error?: string;
  loginError?: string;
  sheet?: { room: string; day?: string; records: NapCheckRecord[]; loadedDay?: string };
}

const state: State = {
  locale: (localStorage.getItem(LOCALE_KEY) as Locale | null) ?? 'zh-CN',
  boardAt: 0,
  alerts: new Map(),
  streamOpen: false,
};
const alarm = new Alarm();
let source: EventSource | undefined;
let reconnectTimer: number | undefined;

const tx = (): Texts => texts(state.locale);
const root = () => document.getElementById('app')!;

function ordered(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].sort(
    (a, b) =>
      severityRank[b.severity] - severityRank[a.severity] ||
      Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged') ||
      a.raisedAt - b.raisedAt,
  );
}

function age(ms: number | undefined): string {
  const t = tx();
  if (ms === undefined) return t.t('never');
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return seconds < 120
    ? `${seconds} ${t.t('secondsAgo')}`
    : `${Math.round(seconds / 60)} ${t.t('minutesAgo')}`;
}

/** Times read as the centre's wall clock, wherever the tablet's own clock is set. */
function clock(ms: number): string {
  const center = state.me?.centers.find((c) => c.id === state.board?.center) ?? state.me?.centers[0];
  return new Date(ms).toLocaleTimeString(state.locale === 'en' ? 'en-GB' : 'zh-CN', {
    hour12: false,
    timeZone: center?.timezone,
  });
}

function roomName(room: RoomBoard | undefined, id: string | undefined): string {
  if (!room) return id ?? '';
  return state.locale === 'zh-CN' && room.nameZh ? room.nameZh : room.name;
}

function infantOf(id: string): InfantBoardEntry | undefined {
  for (const room of state.board?.rooms ?? []) {
    const found = room.infants.find((i) => i.infant === id || i.device === id);
    if (found) return found;
  }
  return undefined;
}

function stale(): boolean {
  return !state.streamOpen || Date.now() - state.boardAt > STALE_AFTER_MS;
}

function unacknowledged(alert: Alert): boolean {
  return alert.state === 'raised' || alert.state === 'escalated';
}

/** The critical alarm keeps sounding while any critical alert is still unacknowledged. */
function updateSound(): void {
  const ringing = [...state.alerts.values()].some((a) => a.severity === 'critical' && unacknowledged(a));
  if (ringing) alarm.start();
  else alarm.stop();
  // Lets a test (or a kiosk watchdog) see that the alarm really sounds, not just that it is drawn.
  document.documentElement.dataset.alarm = alarm.sounding ? 'sounding' : 'quiet';
  document.documentElement.dataset.audio = alarm.state;
}

async function act(action: () => Promise<unknown>): Promise<void> {
  try {
    state.error = undefined;
    await action();
  } catch (error) {
    state.error = `${tx().t('error')}: ${(error as Error).message}`;
  }
  render();
}

async function refreshBoard(): Promise<void> {
  const api = state.api;
  if (!api) return;
  try {
    const [board, { alerts }] = await Promise.all([api.board(), api.alerts()]);
    state.board = board;
    state.alerts = new Map(alerts.map((a) => [a.id, a]));
    state.boardAt = Date.now();
    updateSound();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return logout(tx().t('badToken'));
  }
  render();
}

let boardRefreshQueued = false;
function queueBoardRefresh(): void {
  if (boardRefreshQueued) return;
  boardRefreshQueued = true;
  setTimeout(() => {
    boardRefreshQueued = false;
    void refreshBoard();
  }, 150);
}

function onTransition(event: MessageEvent<string>): void {
  const transition = JSON.parse(event.data) as AlertTransition;
  state.lastSeq = transition.seq;
  const { alert } = transition;
  if (transition.kind === 'resolved') state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
  if (alert.severity !== 'critical' && (transition.kind === 'raised' || transition.kind === 'renotified'))
    alarm.chime();
  updateSound();
  render();
  // Room tiles carry their own open alerts, so the board follows.
  queueBoardRefresh();
}

/**
 * EventSource reconnects by itself and sends Last-Event-ID; when it gives up (server restarted, stream
 * refused) a new one resumes from the last seen sequence number, and a board refresh fills any gap.
 */
function connect(): void {
  const api = state.api;
  if (!api) return;
  source?.close();
  const es = api.stream(state.lastSeq);
  source = es;
  es.addEventListener('open', () => {
    state.streamOpen = true;
    void refreshBoard();
  });
  es.addEventListener('alert', (e) => onTransition(e as MessageEvent<string>));
  es.addEventListener('board', queueBoardRefresh);
  es.addEventListener('nap-check', () => {
    queueBoardRefresh();
    if (state.sheet) void loadSheet(state.sheet.room, state.sheet.day);
  });
  es.addEventListener('error', () => {
    state.streamOpen = false;
    render();
    if (es.readyState === EventSource.CLOSED) {
      window.clearTimeout(reconnectTimer);
      reconnectTimer = window.setTimeout(connect, 2_000);
    }
  });
}

function logout(message?: string): void {
  localStorage.removeItem(TOKEN_KEY);
  source?.close();
  alarm.stop();
  Object.assign(state, {
    api: undefined,
    me: undefined,
    board: undefined,
    alerts: new Map(),
    lastSeq: undefined,
  });
  state.loginError = message;
  render();
}

async function login(token: string): Promise<void> {
  const api = new Api(token);
  try {
    const me = await api.me();
    if (me.role === 'supervisor') {
      const saved = localStorage.getItem(CENTER_KEY);
      const center = me.centers.find((c) => c.id === saved)?.id ?? me.centers[0]?.id ?? null;
      api.setCenter(center);
    }
    if (!localStorage.getItem(LOCALE_KEY)) state.locale = me.defaultLocale;
    localStorage.setItem(TOKEN_KEY, token);
    Object.assign(state, { api, me, loginError: undefined });
    connect();
    await refreshBoard();
  } catch (error) {
    state.loginError =
      error instanceof ApiError && error.status === 401 ? tx().t('badToken') : (error as Error).message;
    render();
  }
}

async function loadSheet(room: string, day?: string): Promise<void> {
  const api = state.api;
  if (!api) return;
  const result = await api.checks(room, day);
  state.sheet = { room, day: result.day, loadedDay: result.day, records: result.records };
  render();
}

async function downloadCsv(room: string, day: string): Promise<void> {
  const response = await state.api!.csv(room, day);
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: `nap-checks-${room}-${day}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- rendering -------------------------------------------------------------------------------------------

function renderLogin(): HTMLElement {
  const t = tx();
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  }) as HTMLInputElement;
  return h(
    'main',
    { class: 'login' },
    h('h1', {}, t.t('title')),
    h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          alarm.unlock();
          void login(input.value.trim());
        },
      },
      h('label', { for: 'token' }, t.t('loginPrompt')),
      input,
      h('button', { type: 'submit', class: 'primary' }, t.t('loginButton')),
      state.loginError ? h('p', { class: 'error', role: 'alert' }, state.loginError) : null,
    ),
    languageButton(),
  );
}

function languageButton(): HTMLElement {
  const t = tx();
  return h(
    'button',
    {
      type: 'button',
      class: 'lang',
      lang: state.locale === 'zh-CN' ? 'en' : 'zh-CN',
      'aria-label': t.t('languageLabel'),
      onclick: () => {
        state.locale = state.locale === 'zh-CN' ? 'en' : 'zh-CN';
        localStorage.setItem(LOCALE_KEY, state.locale);
        render();
      },
    },
    t.t('language'),
  );
}

function renderHeader(): HTMLElement {
  const t = tx();
  const me = state.me!;
  const center = me.centers.find((c) => c.id === state.board?.center) ?? me.centers[0];
  const centerName = center ? (state.locale === 'zh-CN' && center.nameZh ? center.nameZh : center.name) : '';
  const isStale = stale();
  return h(
    'header',
    { class: 'top' },
    h('h1', {}, t.t('title')),
    me.role === 'supervisor' && me.centers.length > 1
      ? h(
          'select',
          {
            'aria-label': t.t('center'),
            onchange: (e: Event) => {
              const id = (e.target as HTMLSelectElement).value;
              localStorage.setItem(CENTER_KEY, id);
              state.api!.setCenter(id);
              state.lastSeq = undefined;
              connect();
              void refreshBoard();
            },
          },
          ...me.centers.map((c) =>
            h('option', { value: c.id, selected: c.id === center?.id }, c.nameZh ?? c.name),
          ),
        )
      : h('span', { class: 'center' }, centerName),
    h(
      'span',
      { class: `status ${isStale ? 'stale' : 'live'}`, role: 'status' },
      '●',
      ' ',
      isStale ? t.t('stale') : t.t('live'),
    ),
    h(
      'span',
      { class: 'who' },
      `${me.name} · ${me.role === 'supervisor' ? t.t('supervisor') : t.t('caregiver')}`,
    ),
    languageButton(),
    h('button', { type: 'button', onclick: () => logout() }, t.t('logout')),
  );
}

function renderAlert(alert: Alert): HTMLElement {
  const t = tx();
  const room = state.board?.rooms.find((r) => r.room === alert.room);
  const infant = alert.subject.kind === 'infant' ? infantOf(alert.subject.id) : undefined;
  return h(
    'li',
    {
      class: `alert sev-${alert.severity} state-${alert.state}`,
      'data-alert-id': alert.id,
      'data-rule': alert.rule,
    },
    h(
      'div',
      { class: 'alert-text' },
      h('strong', { class: 'alert-title' }, `${t.severity(alert.severity)} · ${t.rule(alert.rule)}`),
      h(
        'span',
        { class: 'alert-where' },
        [roomName(room, alert.room), infant?.displayName].filter(Boolean).join(' · '),
      ),
      h('span', { class: 'alert-message' }, alert.message[state.locale] ?? ''),
      h(
        'span',
        { class: 'alert-meta' },
        `${t.t('raisedAt')} ${clock(alert.raisedAt)} (${age(alert.raisedAt)})`,
        alert.notifications > 1 ? ` · ${alert.notifications} ${t.t('reminders')}` : '',
        alert.escalated ? ` · ${t.t('escalated')}` : '',
        alert.acknowledgedBy ? ` · ${t.t('acknowledgedBy')}${alert.acknowledgedBy}` : '',
      ),
    ),
    h(
      'div',
      { class: 'alert-actions' },
      unacknowledged(alert)
        ? h(
            'button',
            {
              type: 'button',
              class: 'ack',
              onclick: () =>
                act(() =>
                  state
                    .api!.ack(alert.id)
                    .then(({ alert: a }) => state.alerts.set(a.id, a))
                    .then(updateSound),
                ),
            },
            t.t('acknowledge'),
          )
        : null,
      alert.rule === 'one-key-alarm'
        ? h(
            'button',
            {
              type: 'button',
              class: 'resolve',
              onclick: () =>
                act(() =>
                  state
                    .api!.resolve(alert.id)
                    .then(() => state.alerts.delete(alert.id))
                    .then(updateSound),
                ),
            },
            t.t('resolve'),
          )
        : null,
    ),
  );
}

function renderInfant(infant: InfantBoardEntry): HTMLElement {
  const t = tx();
  const prone = infant.posture === 'prone';
  return h(
    'li',
    { class: `infant${prone ? ' prone' : ''}`, 'data-infant': infant.infant },
    h('strong', {}, infant.displayName),
    h('span', {}, infant.posture ? t.posture(infant.posture) : '–'),
    h('span', {}, `${t.t('lastReading')}: ${age(infant.lastReadingAt)}`),
    h(
      'span',
      {},
      `${t.t('skinTemp')}: ${infant.skinTempC === undefined ? '–' : `${infant.skinTempC.toFixed(1)} °C`}`,
    ),
    h(
      'span',
      {},
      infant.worn === undefined ? '' : infant.worn ? t.t('worn') : t.t('notWorn'),
      infant.battery === undefined ? '' : ` · ${t.t('battery')} ${Math.round(infant.battery)}%`,
    ),
  );
}

function renderRoom(room: RoomBoard): HTMLElement {
  const t = tx();
  const headingId = `room-${room.room}`;
  const worst = ordered(room.openAlerts)[0];
  return h(
    'section',
    {
      class: `room${room.napping ? ' napping' : ''}${worst ? ` has-alert sev-${worst.severity}` : ''}`,
      'aria-labelledby': headingId,
      'data-room': room.room,
    },
    h('h3', { id: headingId }, roomName(room, room.room)),
    h(
      'p',
      { class: 'room-state' },
      h('span', { class: 'badge' }, room.napping ? t.t('napping') : t.t('awake')),
      room.napping && room.napStartedAt ? ` ${t.t('napSince')} ${clock(room.napStartedAt)}` : '',
    ),
    h(
      'p',
      { class: 'env' },
      room.tempC === undefined ? '' : `${t.t('roomTemp')} ${room.tempC.toFixed(1)} °C`,
      room.humidity === undefined ? '' : ` · ${t.t('humidity')} ${Math.round(room.humidity)}%`,
    ),
    room.infants.length
      ? h('ul', { class: 'infants' }, ...room.infants.map(renderInfant))
      : h('p', {}, t.t('noInfants')),
    h(
      'div',
      { class: 'room-actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'nap',
          onclick: () =>
            act(() => state.api!.nap(room.room, room.napping ? 'ended' : 'started').then(refreshBoard)),
        },
        room.napping ? t.t('endNap') : t.t('startNap'),
      ),
      h(
        'button',
        { type: 'button', class: 'checks', onclick: () => act(() => loadSheet(room.room)) },
        t.t('checks'),
      ),
    ),
  );
}

function renderSheet(sheet: NonNullable<State['sheet']>): HTMLElement {
  const t = tx();
  const room = state.board?.rooms.find((r) => r.room === sheet.room);
  const day = sheet.loadedDay ?? '';
  const names = new Map((room?.infants ?? []).map((i) => [i.infant, i.displayName]));
  const dayInput = h('input', {
    id: 'sheet-day',
    type: 'date',
    value: day,
    onchange: (e: Event) => act(() => loadSheet(sheet.room, (e.target as HTMLInputElement).value)),
  });
  return h(
    'section',
    { class: 'sheet', 'aria-labelledby': 'sheet-title' },
    h('h2', { id: 'sheet-title' }, `${t.t('sheetTitle')} · ${roomName(room, sheet.room)} · ${day}`),
    h(
      'div',
      { class: 'sheet-actions no-print' },
      h('label', { for: 'sheet-day' }, t.t('day')),
      dayInput,
      h(
        'button',
        { type: 'button', class: 'csv', onclick: () => act(() => downloadCsv(sheet.room, day)) },
        t.t('downloadCsv'),
      ),
      h('button', { type: 'button', class: 'print', onclick: () => window.print() }, t.t('printSheet')),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            state.sheet = undefined;
            render();
          },
        },
        t.t('back'),
      ),
    ),
    sheet.records.length === 0
      ? h('p', {}, t.t('noChecks'))
      : h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...(
                [
                  'checkTime',
                  'infant',
                  'posture',
                  'motion',
                  'skinTemp',
                  'alertsCount',
                  'confirmedBy',
                ] as const
              ).map((k) => h('th', { scope: 'col' }, t.t(k))),
            ),
          ),
          h(
            'tbody',
            {},
            ...[...sheet.records]
              .sort((a, b) => a.at - b.at)
              .map((r) =>
                h(
                  'tr',
                  { 'data-check': r.id },
                  h('td', {}, clock(r.at)),
                  h('td', {}, names.get(r.infant) ?? r.infant),
                  h('td', {}, r.posture ? t.posture(r.posture) : '–'),
                  h('td', {}, r.motion === undefined ? '–' : r.motion.toFixed(2)),
                  h('td', {}, r.skinTempC === undefined ? '–' : `${r.skinTempC.toFixed(1)} °C`),
                  h('td', {}, r.openAlerts),
                  h(
                    'td',
                    {},
                    r.confirmedBy
                      ? `${r.confirmedBy} ${r.confirmedAt ? clock(r.confirmedAt) : ''}`
                      : h(
                          'button',
                          {
                            type: 'button',
                            class: 'confirm no-print',
                            onclick: () =>
                              act(() => state.api!.confirm(r.id).then(() => loadSheet(sheet.room, day))),
                          },
                          t.t('confirm'),
                        ),
                  ),
                ),
              ),
          ),
        ),
  );
}

function renderBoard(): HTMLElement {
  const t = tx();
  const alerts = ordered(state.alerts.values());
  return h(
    'main',
    {},
    stale()
      ? h(
          'p',
          { class: 'banner stale', role: 'alert' },
          `${t.t('stale')} ${state.boardAt ? `(${t.t('staleSince')} ${clock(state.boardAt)})` : ''}`,
        )
      : null,
    alarm.blocked
      ? h(
          'button',
          {
            type: 'button',
            class: 'banner sound',
            onclick: () => {
              alarm.unlock();
              setTimeout(render, 100);
            },
          },
          t.t('soundOff'),
        )
      : null,
    state.error ? h('p', { class: 'banner error', role: 'alert' }, state.error) : null,
    h(
      'section',
      { class: 'alerts', 'aria-labelledby': 'alerts-title' },
      h('h2', { id: 'alerts-title' }, `${t.t('openAlerts')} (${alerts.length})`),
      alerts.length
        ? h('ul', { 'aria-live': 'assertive' }, ...alerts.map(renderAlert))
        : h('p', { class: 'none' }, t.t('noAlerts')),
    ),
    state.sheet
      ? renderSheet(state.sheet)
      : h(
          'section',
          { class: 'rooms', 'aria-labelledby': 'rooms-title' },
          h('h2', { id: 'rooms-title' }, t.t('rooms')),
          h('div', { class: 'tiles' }, ...(state.board?.rooms ?? []).map(renderRoom)),
        ),
  );
}

function render(): void {
  document.documentElement.lang = state.locale;
  document.title = `${tx().t('title')} · cradlewatch`;
  const focused = document.activeElement?.id;
  root().replaceChildren(...(state.me ? [renderHeader(), renderBoard()] : [renderLogin()]));
  if (focused) document.getElementById(focused)?.focus();
}

function start(): void {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    // Keep the token out of the address bar, history and screenshots once it is stored.
    params.delete('token');
    history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
  }
  const token = fromUrl ?? localStorage.getItem(TOKEN_KEY);
  // Any tap may unlock sound: browsers allow audio only after a gesture.
  document.addEventListener('pointerdown', () => alarm.unlock(), { capture: true });
  render();
  if (token) void login(token);
  setInterval(() => void refreshBoard(), BOARD_REFRESH_MS);
  // Ages and the stale banner change with time alone.
  setInterval(() => {
    if (state.me && !document.querySelector('input:focus, select:focus')) render();
  }, 1_000);
}

start();
