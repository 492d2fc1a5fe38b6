import type { Alert } from '../../../protocol/payloads.ts';
import type { Session } from '../actions.ts';
import { h, KeyedList, type Part, Slot, setAttr, setClass, setSince, setText } from '../dom.ts';
import { ordered, unacknowledged } from '../state.ts';
import type { Rendering, View } from './view.ts';

function alertCard(session: Session): Part<Alert, Rendering> {
  const el = h('li');
  const text = new Slot(h('div', { class: 'alert-text' }));
  const age = h('span', { class: 'since' });
  const actions = new Slot(h('div', { class: 'alert-actions' }));
  el.append(text.el, actions.el);
  return {
    el,
    update(alert, { state, f }) {
      setClass(el, `alert sev-${alert.severity} state-${alert.state}`);
      setAttr(el, 'data-alert-id', alert.id);
      setAttr(el, 'data-rule', alert.rule);
      const room = state.board?.rooms.find((r) => r.room === alert.room);
      const infant = alert.subject.kind === 'infant' ? f.infant(alert.subject.id) : undefined;
      const where = [f.roomName(room, alert.room), infant?.displayName].filter(Boolean).join(' · ');
      text.show(JSON.stringify([state.locale, f.center?.timezone, where, alert]), () => [
        h('strong', { class: 'alert-title' }, `${f.severity(alert.severity)} · ${f.rule(alert.rule)}`),
        h('span', { class: 'alert-where' }, where),
        h('span', { class: 'alert-message' }, alert.message[state.locale] ?? ''),
        h(
          'span',
          { class: 'alert-meta' },
          `${f.t('raisedAt')} ${f.clock(alert.raisedAt)} (`,
          age,
          ')',
          alert.notifications > 1 ? ` · ${alert.notifications} ${f.t('reminders')}` : '',
          alert.escalated ? ` · ${f.t('escalated')}` : '',
          alert.acknowledgedBy ? ` · ${f.t('acknowledgedBy')}${alert.acknowledgedBy}` : '',
        ),
      ]);
      setSince(age, alert.raisedAt, f.age);
      const open = unacknowledged(alert);
      actions.show(JSON.stringify([state.locale, open, alert.rule]), () => [
        open
          ? h(
              'button',
              { type: 'button', class: 'ack', onclick: () => session.acknowledge(alert.id) },
              f.t('acknowledge'),
            )
          : null,
        alert.rule === 'one-key-alarm'
          ? h(
              'button',
              { type: 'button', class: 'resolve', onclick: () => session.resolve(alert.id) },
              f.t('resolve'),
            )
          : null,
      ]);
    },
  };
}

/**
 * Open alerts, most urgent first. The list is one `aria-live` node for the whole session: a card is added,
 * patched or removed, so a screen reader announces the alert that changed, not the whole list again.
 */
export function alertsView(session: Session): View {
  const title = h('h2', { id: 'alerts-title' });
  const list = h('ul', { 'aria-live': 'assertive' });
  const none = h('p', { class: 'none' });
  const cards = new KeyedList<Alert, Rendering>(
    list,
    (a) => a.id,
    () => alertCard(session),
  );
  return {
    el: h('section', { class: 'alerts', 'aria-labelledby': 'alerts-title' }, title, list, none),
    update(state, f) {
      const alerts = ordered(state.alerts.values());
      setText(title, `${f.t('openAlerts')} (${alerts.length})`);
      setText(none, f.t('noAlerts'));
      setAttr(none, 'hidden', alerts.length > 0);
      cards.update(alerts, { state, f });
    },
  };
}
