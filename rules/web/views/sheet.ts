import type { Session } from '../actions.ts';
import { h, Slot, setAttr } from '../dom.ts';
import type { View } from './view.ts';

const COLUMNS = [
  'checkTime',
  'infant',
  'posture',
  'motion',
  'skinTemp',
  'alertsCount',
  'confirmedBy',
] as const;

/** A room's nap-check sheet for one day: confirm checks in person, download as CSV, print. */
export function sheetView(session: Session): View {
  const slot = new Slot(h('section', { class: 'sheet', 'aria-labelledby': 'sheet-title' }));
  return {
    el: slot.el,
    update(state, f) {
      const sheet = state.sheet;
      setAttr(slot.el, 'hidden', !sheet);
      if (!sheet) return;
      const room = state.board?.rooms.find((r) => r.room === sheet.room);
      const names = new Map((room?.infants ?? []).map((i) => [i.infant, i.displayName]));
      const title = `${f.t('sheetTitle')} · ${f.roomName(room, sheet.room)} · ${sheet.day}`;
      slot.show(JSON.stringify([state.locale, f.center?.timezone, title, [...names], sheet]), () => [
        h('h2', { id: 'sheet-title' }, title),
        h(
          'div',
          { class: 'sheet-actions no-print' },
          h('label', { for: 'sheet-day' }, f.t('day')),
          h('input', {
            id: 'sheet-day',
            type: 'date',
            value: sheet.day,
            onchange: (e: Event) => session.openSheet(sheet.room, (e.target as HTMLInputElement).value),
          }),
          h(
            'button',
            { type: 'button', class: 'csv', onclick: () => session.downloadCsv(sheet.room, sheet.day) },
            f.t('downloadCsv'),
          ),
          h('button', { type: 'button', class: 'print', onclick: () => window.print() }, f.t('printSheet')),
          h('button', { type: 'button', onclick: session.closeSheet }, f.t('back')),
        ),
        sheet.records.length === 0
          ? h('p', {}, f.t('noChecks'))
          : h(
              'table',
              {},
              h('thead', {}, h('tr', {}, ...COLUMNS.map((k) => h('th', { scope: 'col' }, f.t(k))))),
              h(
                'tbody',
                {},
                ...[...sheet.records]
                  .sort((a, b) => a.at - b.at)
                  .map((r) =>
                    h(
                      'tr',
                      { 'data-check': r.id },
                      h('td', {}, f.clock(r.at)),
                      h('td', {}, names.get(r.infant) ?? r.infant),
                      h('td', {}, r.posture ? f.posture(r.posture) : '–'),
                      h('td', {}, r.motion === undefined ? '–' : r.motion.toFixed(2)),
                      h('td', {}, r.skinTempC === undefined ? '–' : `${r.skinTempC.toFixed(1)} °C`),
                      h('td', {}, r.openAlerts),
                      h(
                        'td',
                        {},
                        r.confirmedBy
                          ? `${r.confirmedBy} ${r.confirmedAt ? f.clock(r.confirmedAt) : ''}`
                          : h(
                              'button',
                              {
                                type: 'button',
                                class: 'confirm no-print',
                                onclick: () => session.confirmCheck(r.id),
                              },
                              f.t('confirm'),
                            ),
                      ),
                    ),
                  ),
              ),
            ),
      ]);
    },
  };
}
