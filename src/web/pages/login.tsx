/** Signing in, and the first administrator's password from the one-time link `liaison serve` prints. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import type { SessionInfo } from '../types.js';
import { asApiError, Field, Notice } from '../ui.js';

export function LoginPage(props: { onSignedIn: (info: SessionInfo) => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Liaison';
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await api<SessionInfo>('POST', '/session', { email: String(data.get('email') ?? ''), password: String(data.get('password') ?? '') }, { quiet401: true }));
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <h1>Liaison</h1>
      <form onSubmit={(event) => void submit(event)} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        {error ? (
          <Notice kind="error">
            {error.message}
            {error.retryAfterSeconds ? ` Try again in ${Math.ceil(error.retryAfterSeconds / 60)} minute(s).` : ''}
          </Notice>
        ) : null}
        <Field label="Email" name="email">
          {(attrs) => <input {...attrs} type="email" autoComplete="username" required autoFocus />}
        </Field>
        <Field label="Password" name="password">
          {(attrs) => <input {...attrs} type="password" autoComplete="current-password" required />}
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">
          No password yet? An administrator sets one with <code>liaison user password --email you@example.com</code>.
        </p>
      </form>
    </main>
  );
}

interface SetupState {
  needed: boolean;
  mode: 'create-admin' | 'set-password' | null;
}

export function SetupPage(props: { onSignedIn: (info: SessionInfo) => void }) {
  const token = window.location.hash.replace(/^#/, '');
  const [state, setState] = useState<SetupState | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Set up · Liaison';
    api<SetupState>('GET', '/session/setup', undefined, { quiet401: true }).then(setState, (caught: unknown) => setError(asApiError(caught)));
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const password = String(data.get('password') ?? '');
    if (password !== String(data.get('confirm') ?? '')) {
      setError(new ApiError(400, 'The two passwords differ', [{ field: 'confirm', message: 'must be the same as the password' }]));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { token, password };
      for (const key of ['email', 'name']) {
        const value = String(data.get(key) ?? '').trim();
        if (value) body[key] = value;
      }
      const info = await api<SessionInfo>('POST', '/session/setup', body, { quiet401: true });
      // The token is spent: keep it out of the history.
      window.history.replaceState(null, '', '/');
      props.onSignedIn(info);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <h1>Liaison</h1>
      {state && !state.needed ? (
        <Notice kind="info">
          An administrator can already sign in. <a href="/">Sign in</a>.
        </Notice>
      ) : !token ? (
        <Notice kind="error">
          This page needs the link <code>liaison serve</code> printed (it ends in <code>/setup#…</code>). Restart Liaison for a new one.
        </Notice>
      ) : (
        <form onSubmit={(event) => void submit(event)} aria-labelledby="setup-title">
          <h2 id="setup-title">{state?.mode === 'create-admin' ? 'Create the first administrator' : "Set the administrator's password"}</h2>
          {error && !error.forField('password') && !error.forField('confirm') ? <Notice kind="error">{error.message}</Notice> : null}
          <Field label="Email" name="email" error={error?.forField('email')} hint={state?.mode === 'set-password' ? 'The administrator’s address; may be left empty when there is only one' : null}>
            {(attrs) => <input {...attrs} type="email" autoComplete="username" required={state?.mode === 'create-admin'} />}
          </Field>
          {state?.mode === 'create-admin' ? (
            <Field label="Name" name="name" error={error?.forField('name')}>
              {(attrs) => <input {...attrs} type="text" autoComplete="name" required maxLength={200} />}
            </Field>
          ) : null}
          <Field label="Password" name="password" error={error?.forField('password')} hint="12 characters or more">
            {(attrs) => <input {...attrs} type="password" autoComplete="new-password" required minLength={12} maxLength={1024} />}
          </Field>
          <Field label="Password again" name="confirm" error={error?.forField('confirm')}>
            {(attrs) => <input {...attrs} type="password" autoComplete="new-password" required />}
          </Field>
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save and sign in'}
          </button>
        </form>
      )}
    </main>
  );
}
