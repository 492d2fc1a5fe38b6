import type { Session } from '../actions.ts';
import { h, setAttr, setText } from '../dom.ts';
import { languageButton } from './header.ts';
import type { View } from './view.ts';

/** Paste a token and log in; a bad token is said in the caregiver's language. */
export function loginView(session: Session, unlockSound: () => void): View {
  const title = h('h1');
  const label = h('label', { for: 'token' });
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  }) as HTMLInputElement;
  const submit = h('button', { type: 'submit', class: 'primary' });
  const error = h('p', { class: 'error', role: 'alert' });
  const lang = languageButton(session);
  const form = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        unlockSound();
        void session.login(input.value.trim());
      },
    },
    label,
    input,
    submit,
    error,
  );
  return {
    el: h('main', { class: 'login' }, title, form, lang.el),
    update(state, f) {
      setText(title, f.t('title'));
      setText(label, f.t('loginPrompt'));
      setText(submit, f.t('loginButton'));
      setAttr(error, 'hidden', !state.loginError);
      setText(error, state.loginError ?? '');
      lang.update(state, f);
    },
  };
}
