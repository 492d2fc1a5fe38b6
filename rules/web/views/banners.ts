import type { Session } from '../actions.ts';
import { h, Slot } from '../dom.ts';
import type { Alarm } from '../sound.ts';
import { isStale } from '../state.ts';
import type { View } from './view.ts';

/**
 * What a caregiver must know about the page itself: its data may be old (stream down or board not
 * refreshed), the pipeline runs behind (`delayedS` on the board), sound is blocked, an action failed.
 * Each banner is built when its message changes and removed when it no longer applies.
 */
export function bannersView(session: Session, alarm: Alarm): View {
  const stale = new Slot(h('div'));
  const delayed = new Slot(h('div'));
  const sound = new Slot(h('div'));
  const error = new Slot(h('div'));
  return {
    el: h('div', { class: 'banners' }, stale.el, delayed.el, sound.el, error.el),
    update(state, f) {
      const staleSince = state.boardAt ? `(${f.t('staleSince')} ${f.clock(state.boardAt)})` : '';
      stale.show(isStale(state) ? `${state.locale}|${staleSince}` : '', () =>
        isStale(state)
          ? [h('p', { class: 'banner stale', role: 'alert' }, `${f.t('stale')} ${staleSince}`)]
          : [],
      );
      const delayS = Math.round(state.board?.delayedS ?? 0);
      delayed.show(delayS > 0 ? `${state.locale}|${delayS}` : '', () =>
        delayS > 0
          ? [
              h(
                'p',
                { class: 'banner delayed', role: 'status' },
                `${f.t('delayedBy')} ${delayS} ${f.t('seconds')}`,
              ),
            ]
          : [],
      );
      sound.show(alarm.blocked ? state.locale : '', () =>
        alarm.blocked
          ? [
              h(
                'button',
                { type: 'button', class: 'banner sound', onclick: session.unlockSound },
                f.t('soundOff'),
              ),
            ]
          : [],
      );
      error.show(state.error ?? '', () =>
        state.error ? [h('p', { class: 'banner error', role: 'alert' }, state.error)] : [],
      );
    },
  };
}
