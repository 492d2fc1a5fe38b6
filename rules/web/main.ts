import type { Locale } from '../../protocol/payloads.ts';
import { LOCALE_KEY, Session, TOKEN_KEY } from './actions.ts';
import { setAttr, tickSince } from './dom.ts';
import { ageText, format } from './format.ts';
import { Alarm } from './sound.ts';
import { initialState, Store, unacknowledged } from './state.ts';
import { boardView } from './views/board.ts';
import { loginView } from './views/login.ts';
import type { View } from './views/view.ts';

const alarm = new Alarm();
const store = new Store(initialState((localStorage.getItem(LOCALE_KEY) as Locale | null) ?? 'zh-CN'), render);
const session = new Session(store, alarm);
const root = document.getElementById('app')!;
let screen: { loggedIn: boolean; view: View } | undefined;

/** The critical alarm keeps sounding while any critical alert is still unacknowledged. */
function updateSound(): void {
  const ringing = [...store.state.alerts.values()].some(
    (a) => a.severity === 'critical' && unacknowledged(a),
  );
  if (ringing) alarm.start();
  else alarm.stop();
  // Lets a test (or a kiosk watchdog) see that the alarm really sounds, not just that it is drawn.
  const html = document.documentElement;
  setAttr(html, 'data-alarm', alarm.sounding ? 'sounding' : 'quiet');
  setAttr(html, 'data-audio', alarm.state);
}

/** Patches every view from the state; a view touches the DOM only where what it shows changed. */
function render(): void {
  const { state } = store;
  const f = format(state);
  setAttr(document.documentElement, 'lang', state.locale);
  const title = `${f.t('title')} · cradlewatch`;
  if (document.title !== title) document.title = title;
  // Each screen is built fresh when shown: nothing of the last caregiver's centre survives a logout, and
  // the token field of the login screen is empty again.
  const loggedIn = state.me !== undefined;
  if (screen?.loggedIn !== loggedIn) {
    const view = loggedIn ? boardView(session, alarm) : loginView(session, () => alarm.unlock());
    screen = { loggedIn, view };
    root.replaceChildren(view.el);
  }
  const focused = document.activeElement;
  screen.view.update(state, f);
  // A rebuilt part (the sheet after picking a day) gets the focus back on its element of the same id.
  if (focused?.id && !focused.isConnected) document.getElementById(focused.id)?.focus();
  updateSound();
}

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
if (token) void session.login(token);
session.start();
// Time alone changes the relative times and whether the data counts as stale: nothing else is redrawn.
window.setInterval(() => {
  tickSince(root, ageText(store.state.locale));
  render();
}, 1_000);
