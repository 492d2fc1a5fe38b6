import type { Session } from '../actions.ts';
import { h, setAttr } from '../dom.ts';
import type { Alarm } from '../sound.ts';
import { alertsView } from './alerts.ts';
import { bannersView } from './banners.ts';
import { headerView } from './header.ts';
import { roomsView } from './rooms.ts';
import { sheetView } from './sheet.ts';
import type { View } from './view.ts';

/** The logged-in page: header, banners, open alerts, then the room tiles or a room's nap-check sheet. */
export function boardView(session: Session, alarm: Alarm): View {
  const parts = [
    headerView(session),
    bannersView(session, alarm),
    alertsView(session),
    roomsView(session),
    sheetView(session),
  ];
  const [header, banners, alerts, rooms, sheet] = parts as [View, View, View, View, View];
  const el = h(
    'div',
    { class: 'board' },
    header.el,
    h('main', {}, banners.el, alerts.el, rooms.el, sheet.el),
  );
  return {
    el,
    update(state, f) {
      // The tiles stay built under an open sheet, so closing it shows them without a rebuild.
      setAttr(rooms.el, 'hidden', state.sheet !== undefined);
      for (const part of parts) part.update(state, f);
    },
  };
}
