import type { Session } from '../actions.ts';
import { h, Slot, setAttr, setClass, setText } from '../dom.ts';
import { isStale, type State } from '../state.ts';
import type { View } from './view.ts';

/** The language switch, on the login screen and in the header. */
export function languageButton(session: Session): View {
  let locale: State['locale'] = 'zh-CN';
  const el = h('button', {
    type: 'button',
    class: 'lang',
    onclick: () => session.setLocale(locale === 'zh-CN' ? 'en' : 'zh-CN'),
  });
  return {
    el,
    update(state, f) {
      locale = state.locale;
      setAttr(el, 'lang', locale === 'zh-CN' ? 'en' : 'zh-CN');
      setAttr(el, 'aria-label', f.t('languageLabel'));
      setText(el, f.t('language'));
    },
  };
}

/** Title, centre (a chooser for a supervisor of several), live/stale status, who is logged in. */
export function headerView(session: Session): View {
  const title = h('h1');
  const center = new Slot(h('span', { class: 'center-slot' }));
  // One status node for the session: it is a live region, and a screen reader follows the same node.
  const status = h('span', { role: 'status' });
  const who = h('span', { class: 'who' });
  const lang = languageButton(session);
  const logout = h('button', { type: 'button', class: 'logout', onclick: () => session.logout() });
  const el = h('header', { class: 'top' }, title, center.el, status, who, lang.el, logout);
  return {
    el,
    update(state, f) {
      const me = state.me;
      if (!me) return;
      setText(title, f.t('title'));
      const several = me.role === 'supervisor' && me.centers.length > 1;
      center.show(JSON.stringify([several, state.locale, me.centers, f.center?.id]), () => [
        several
          ? h(
              'select',
              {
                'aria-label': f.t('center'),
                onchange: (e: Event) => session.switchCenter((e.target as HTMLSelectElement).value),
              },
              ...me.centers.map((c) =>
                h('option', { value: c.id, selected: c.id === f.center?.id }, f.centerName(c)),
              ),
            )
          : h('span', { class: 'center' }, f.centerName(f.center)),
      ]);
      const stale = isStale(state);
      setClass(status, `status ${stale ? 'stale' : 'live'}`);
      setText(status, `● ${stale ? f.t('stale') : f.t('live')}`);
      setText(who, `${me.name} · ${me.role === 'supervisor' ? f.t('supervisor') : f.t('caregiver')}`);
      lang.update(state, f);
      setText(logout, f.t('logout'));
    },
  };
}
