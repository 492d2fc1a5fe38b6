import type { InfantBoardEntry, RoomBoard } from '../../contracts.ts';
import type { Session } from '../actions.ts';
import { h, KeyedList, type Part, setAttr, setClass, setSince, setText } from '../dom.ts';
import { roomAlerts } from '../state.ts';
import type { Rendering, View } from './view.ts';

function infantRow(): Part<InfantBoardEntry, Rendering> {
  const name = h('strong');
  const posture = h('span');
  const label = document.createTextNode('');
  const age = h('span', { class: 'since' });
  const skin = h('span');
  const wearable = h('span');
  const el = h('li', {}, name, posture, h('span', {}, label, age), skin, wearable);
  return {
    el,
    update(infant, { f }) {
      setClass(el, `infant${infant.posture === 'prone' ? ' prone' : ''}`);
      setAttr(el, 'data-infant', infant.infant);
      setText(name, infant.displayName);
      setText(posture, infant.posture ? f.posture(infant.posture) : '–');
      setText(label, `${f.t('lastReading')}: `);
      setSince(age, infant.lastReadingAt, f.age);
      setText(
        skin,
        `${f.t('skinTemp')}: ${infant.skinTempC === undefined ? '–' : `${infant.skinTempC.toFixed(1)} °C`}`,
      );
      setText(
        wearable,
        (infant.worn === undefined ? '' : infant.worn ? f.t('worn') : f.t('notWorn')) +
          (infant.battery === undefined ? '' : ` · ${f.t('battery')} ${Math.round(infant.battery)}%`),
      );
    },
  };
}

function roomTile(session: Session): Part<RoomBoard, Rendering> {
  let room: RoomBoard | undefined;
  const heading = h('h3');
  const badge = h('span', { class: 'badge' });
  const since = document.createTextNode('');
  const env = h('p', { class: 'env' });
  const list = h('ul', { class: 'infants' });
  const noInfants = h('p');
  const infants = new KeyedList<InfantBoardEntry, Rendering>(list, (i) => i.infant, infantRow);
  const nap = h('button', {
    type: 'button',
    class: 'nap',
    onclick: () => room && session.toggleNap(room.room, room.napping),
  });
  const checks = h('button', {
    type: 'button',
    class: 'checks',
    onclick: () => room && session.openSheet(room.room),
  });
  const el = h(
    'section',
    {},
    heading,
    h('p', { class: 'room-state' }, badge, since),
    env,
    list,
    noInfants,
    h('div', { class: 'room-actions' }, nap, checks),
  );
  return {
    el,
    update(next, context) {
      room = next;
      const { state, f } = context;
      const worst = roomAlerts(state, next.room)[0];
      setClass(el, `room${next.napping ? ' napping' : ''}${worst ? ` has-alert sev-${worst.severity}` : ''}`);
      setAttr(el, 'data-room', next.room);
      setAttr(heading, 'id', `room-${next.room}`);
      setAttr(el, 'aria-labelledby', `room-${next.room}`);
      setText(heading, f.roomName(next, next.room));
      setText(badge, next.napping ? f.t('napping') : f.t('awake'));
      setText(
        since,
        next.napping && next.napStartedAt ? ` ${f.t('napSince')} ${f.clock(next.napStartedAt)}` : '',
      );
      setText(
        env,
        (next.tempC === undefined ? '' : `${f.t('roomTemp')} ${next.tempC.toFixed(1)} °C`) +
          (next.humidity === undefined ? '' : ` · ${f.t('humidity')} ${Math.round(next.humidity)}%`),
      );
      infants.update(next.infants, context);
      setAttr(list, 'hidden', next.infants.length === 0);
      setAttr(noInfants, 'hidden', next.infants.length > 0);
      setText(noInfants, f.t('noInfants'));
      setText(nap, next.napping ? f.t('endNap') : f.t('startNap'));
      setText(checks, f.t('checks'));
    },
  };
}

/** One tile per room: nap state, climate, each infant; the tile takes the colour of its worst open alert. */
export function roomsView(session: Session): View {
  const title = h('h2', { id: 'rooms-title' });
  const tiles = h('div', { class: 'tiles' });
  const rooms = new KeyedList<RoomBoard, Rendering>(
    tiles,
    (r) => r.room,
    () => roomTile(session),
  );
  return {
    el: h('section', { class: 'rooms', 'aria-labelledby': 'rooms-title' }, title, tiles),
    update(state, f) {
      setText(title, f.t('rooms'));
      rooms.update(state.board?.rooms ?? [], { state, f });
    },
  };
}
