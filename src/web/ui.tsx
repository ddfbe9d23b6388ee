/** The console's small shared parts: loading data, form fields with their errors, statuses, dates. */
import type { ComponentChildren, JSX } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import type { SessionInfo } from './types.js';

export const SessionContext = createContext<SessionInfo | null>(null);

/** The signed-in user's session; the pages are shown only when there is one. */
export function useSession(): SessionInfo {
  const session = useContext(SessionContext);
  if (!session) throw new Error('page shown without a session');
  return session;
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads what a page shows, again when `deps` change; the last answer wins when several are in flight. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await run();
      if (mine === generation.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error: asApiError(error), loading: false }));
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { ...state, reload };
}

/** The pages after a list's first (its More button): the first page's items followed by those loaded since. */
export interface MorePages<T> {
  items: T[];
  nextCursor: string | null;
  loadMore(cursor: string): Promise<void>;
  busy: boolean;
  error: ApiError | null;
}

export function useMorePages<T>(first: Loaded<{ items: T[]; nextCursor: string | null }>, fetchPage: (cursor: string) => Promise<{ items: T[]; nextCursor: string | null }>): MorePages<T> {
  const [more, setMore] = useState<{ items: T[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // A new first page (other filters, a reload) starts the list again.
  useEffect(() => setMore(null), [first.data]);
  const loadMore = async (cursor: string) => {
    setBusy(true);
    setError(null);
    try {
      const page = await fetchPage(cursor);
      setMore((m) => ({ items: [...(m?.items ?? []), ...page.items], nextCursor: page.nextCursor }));
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return {
    items: [...(first.data?.items ?? []), ...(more?.items ?? [])],
    nextCursor: more ? more.nextCursor : (first.data?.nextCursor ?? null),
    loadMore,
    busy,
    error,
  };
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, (error as Error)?.message ?? String(error));
}

export function PageHeader(props: { title: string; children?: ComponentChildren; subtitle?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Liaison`;
  }, [props.title]);
  return (
    <header class="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.subtitle ? <p class="subtitle">{props.subtitle}</p> : null}
      </div>
      {props.children ? <div class="actions">{props.children}</div> : null}
    </header>
  );
}

/** An error answer, with its field problems when they are not shown next to fields. */
export function ErrorNotice(props: { error: ApiError | null; listProblems?: boolean }) {
  if (!props.error) return null;
  const { error } = props;
  return (
    <div class="notice error" role="alert">
      <strong>{error.status === 403 ? 'Not allowed: ' : error.status === 404 ? 'Not found: ' : ''}</strong>
      {error.message}
      {props.listProblems && error.problems.length > 0 ? (
        <ul>
          {error.problems.map((p) => (
            <li key={p.field + p.message}>
              {p.field ? <code>{p.field}</code> : null} {p.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Notice(props: { kind?: 'info' | 'success' | 'warning' | 'error'; children: ComponentChildren }) {
  return (
    <div class={`notice ${props.kind ?? 'info'}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/**
 * A labelled form control with its hint and its error (the API's save-time rule for this field), tied together
 * for screen readers. The control is the one child; it gets the id, name and aria attributes.
 */
export function Field(props: {
  label: string;
  name: string;
  error?: string | null;
  hint?: ComponentChildren;
  children: (attrs: { id: string; name: string; 'aria-invalid'?: 'true'; 'aria-describedby'?: string }) => JSX.Element;
}) {
  const id = `f-${props.name.replace(/[^a-zA-Z0-9_-]/g, '-')}-${useId()}`;
  const described = [props.hint ? `${id}-hint` : null, props.error ? `${id}-error` : null].filter(Boolean).join(' ');
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={id}>{props.label}</label>
      {props.children({
        id,
        name: props.name,
        ...(props.error ? { 'aria-invalid': 'true' as const } : {}),
        ...(described ? { 'aria-describedby': described } : {}),
      })}
      {props.hint ? (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p class="field-error" id={`${id}-error`} data-field={props.name}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

const STATUS_CLASS: Record<string, string> = {
  success: 'good',
  enabled: 'good',
  approved: 'good',
  sent: 'good',
  received: 'good',
  information: 'info',
  failure: 'bad',
  failed: 'bad',
  error: 'bad',
  rejected: 'bad',
  refused: 'bad',
  'delivery-uncertain': 'warn',
  warning: 'warn',
  'pending-send': 'warn',
  sending: 'warn',
  pending: 'warn',
  'not-run': 'muted',
  'not-approved': 'muted',
  disabled: 'muted',
  draft: 'muted',
  skipped: 'muted',
};

export function Status(props: { value: string; label?: string }) {
  return <span class={`status ${STATUS_CLASS[props.value] ?? 'muted'}`}>{props.label ?? props.value.replace(/-/g, ' ')}</span>;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : dateFormat.format(date);
}

/** A moment, as a date with its ISO form on hover (and for machines: a <time> element). */
export function When(props: { value: string | null | undefined; empty?: string }) {
  if (!props.value) return <span class="muted">{props.empty ?? '—'}</span>;
  return (
    <time dateTime={props.value} title={props.value}>
      {formatDate(props.value)}
    </time>
  );
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A "load more" button for the API's cursor pages. */
export function MoreButton(props: { nextCursor: string | null; onMore: (cursor: string) => void; busy?: boolean }) {
  if (!props.nextCursor) return null;
  const cursor = props.nextCursor;
  return (
    <p>
      <button type="button" class="secondary" disabled={props.busy} onClick={() => props.onMore(cursor)}>
        Load more
      </button>
    </p>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

/** Reads a form's named controls as strings (checkboxes as booleans). */
export function formValues(form: HTMLFormElement): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const element of Array.from(form.elements)) {
    const control = element as HTMLInputElement;
    if (!control.name || control.disabled) continue;
    values[control.name] = control.type === 'checkbox' ? control.checked : control.value;
  }
  return values;
}
