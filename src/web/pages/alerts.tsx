/**
 * Alerts (/alerts): newest first, filtered by level, scope, profile and mailbox (kept in the address, so a
 * filtered list can be bookmarked and linked to); each with the server's own answer and the fix.
 */
import type { Static } from '@sinclair/typebox';
import { useEffect, useRef, useState } from 'preact/hooks';
import type * as S from '../../api/schemas.js';
import { type ApiError, get } from '../api.js';
import { setQuery } from '../router.js';
import type { Alert, Mailbox, Page, Profile } from '../types.js';
import { asApiError, ErrorNotice, Field, Loading, MoreButton, PageHeader, Status, useLoad, useSession, When } from '../ui.js';
import './alerts.css';

type AlertQuery = Static<typeof S.AlertQuery>;

const PAGE_SIZE = 50;
const ALERT_LEVELS = ['error', 'warning', 'information'] as const satisfies ReadonlyArray<Alert['level']>;
const ALERT_SCOPES = ['profile', 'mailbox', 'email'] as const satisfies ReadonlyArray<Alert['scope']>;
/** The filters read from (and written to) the address. */
const FILTERS = ['level', 'scope', 'profileId', 'mailboxId'] as const;

function filtersOf(query: URLSearchParams): Partial<Record<(typeof FILTERS)[number], string>> {
  const filters: Partial<Record<(typeof FILTERS)[number], string>> = {};
  for (const name of FILTERS) {
    const value = query.get(name);
    if (value) filters[name] = value;
  }
  return filters;
}

/** The names of the profiles and mailboxes the filters offer and the alerts link to (what the caller may read). */
function useNames(isAdmin: boolean) {
  return useLoad(async () => {
    const [profiles, mailboxes] = await Promise.all([
      isAdmin ? get<Page<Profile>>('/email-server-profiles', { limit: 500 }).then((p) => p.items) : Promise.resolve([] as Profile[]),
      get<Page<Mailbox>>('/mailboxes', { limit: 500 }).then((p) => p.items),
    ]);
    return { profiles, mailboxes };
  }, [isAdmin]);
}

function AlertItem(props: { alert: Alert; profileName: string | null; mailboxName: string | null; isAdmin: boolean }) {
  const { alert } = props;
  return (
    <li class="alert-item" data-level={alert.level}>
      <div class="alert-head">
        <Status value={alert.level} />
        <When value={alert.createdAt} />
        <span class="muted">{alert.scope}</span>
        <code class="alert-code">{alert.code}</code>
      </div>
      <p class="alert-message">{alert.message}</p>
      {alert.profileId || alert.mailboxId || alert.activityId ? (
        <p class="alert-links">
          {alert.profileId ? (
            <span>
              Profile:{' '}
              {props.isAdmin ? (
                <a href={`/profiles/${alert.profileId}`}>{props.profileName ?? alert.profileId}</a>
              ) : (
                <a href={`/alerts?profileId=${alert.profileId}`}>{props.profileName ?? 'its alerts'}</a>
              )}
            </span>
          ) : null}
          {alert.mailboxId ? (
            <span>
              Mailbox: <a href={`/mailboxes/${alert.mailboxId}`}>{props.mailboxName ?? alert.mailboxId}</a>
            </span>
          ) : null}
          {alert.activityId ? (
            <span>
              Email: <a href={`/activities/${alert.activityId}`}>open</a>
            </span>
          ) : null}
        </p>
      ) : null}
      {alert.serverResponse ? (
        <div class="alert-response">
          <h3>The server's response</h3>
          <pre>{alert.serverResponse}</pre>
        </div>
      ) : null}
      {alert.fix ? (
        <p class="alert-fix">
          <strong>Fix:</strong> {alert.fix}
        </p>
      ) : null}
    </li>
  );
}

export function AlertsPage(props: { query: URLSearchParams }) {
  const { user } = useSession();
  const filters = filtersOf(props.query);
  const key = JSON.stringify(filters);
  const names = useNames(user.isAdmin);

  const [items, setItems] = useState<Alert[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  /** Which load is the latest: an answer for an older filter is dropped. */
  const current = useRef(0);

  const load = async (after: string | null, mine: number) => {
    setLoading(true);
    try {
      const page = await get<Page<Alert>>('/alerts', { ...(filters as AlertQuery), limit: PAGE_SIZE, after });
      if (mine !== current.current) return;
      setItems((old) => (after ? [...old, ...page.items] : page.items));
      setNextCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      if (mine === current.current) setError(asApiError(e));
    } finally {
      if (mine === current.current) setLoading(false);
    }
  };

  // A new filter starts the list over.
  useEffect(() => {
    current.current += 1;
    setItems([]);
    setNextCursor(null);
    void load(null, current.current);
  }, [key, generation]);

  const profiles = names.data?.profiles ?? [];
  const mailboxes = names.data?.mailboxes ?? [];
  const profileName = (id: string | null) => (id ? (profiles.find((p) => p.id === id)?.name ?? null) : null);
  const mailboxName = (id: string | null) => (id ? (mailboxes.find((m) => m.id === id)?.emailAddress || null) : null);
  const filtered = Object.keys(filters).length > 0;

  return (
    <section>
      <PageHeader title="Alerts" subtitle={user.isAdmin ? 'Every alert, newest first' : 'The alerts of your mailboxes and your queues\', newest first'}>
        <button type="button" class="secondary" onClick={() => setGeneration((g) => g + 1)} disabled={loading}>
          Refresh
        </button>
      </PageHeader>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter alerts">
        <Field label="Level" name="level">
          {(attrs) => (
            <select {...attrs} value={filters.level ?? ''} onChange={(e) => setQuery({ level: e.currentTarget.value })}>
              <option value="">All levels</option>
              {ALERT_LEVELS.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Scope" name="scope">
          {(attrs) => (
            <select {...attrs} value={filters.scope ?? ''} onChange={(e) => setQuery({ scope: e.currentTarget.value })}>
              <option value="">All scopes</option>
              {ALERT_SCOPES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        {user.isAdmin || filters.profileId ? (
          <Field label="Profile" name="profileId">
            {(attrs) => (
              <select {...attrs} value={filters.profileId ?? ''} onChange={(e) => setQuery({ profileId: e.currentTarget.value })}>
                <option value="">All profiles</option>
                {filters.profileId && !profiles.some((p) => p.id === filters.profileId) ? <option value={filters.profileId}>{filters.profileId}</option> : null}
                {profiles.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : null}
        <Field label="Mailbox" name="mailboxId">
          {(attrs) => (
            <select {...attrs} value={filters.mailboxId ?? ''} onChange={(e) => setQuery({ mailboxId: e.currentTarget.value })}>
              <option value="">All mailboxes</option>
              {filters.mailboxId && !mailboxes.some((m) => m.id === filters.mailboxId) ? <option value={filters.mailboxId}>{filters.mailboxId}</option> : null}
              {mailboxes.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.emailAddress || m.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        {filtered ? (
          <button type="button" class="link" onClick={() => setQuery({ level: null, scope: null, profileId: null, mailboxId: null })}>
            Clear the filters
          </button>
        ) : null}
      </form>
      <ErrorNotice error={error} listProblems />
      <ErrorNotice error={names.error} />
      {items.length === 0 && loading ? <Loading what="alerts" /> : null}
      {items.length === 0 && !loading && !error ? <p class="muted">{filtered ? 'No alert matches these filters.' : 'No alerts.'}</p> : null}
      {items.length > 0 ? (
        <ol class="alert-list" aria-label="Alerts">
          {items.map((a) => (
            <AlertItem key={a.id} alert={a} profileName={profileName(a.profileId)} mailboxName={mailboxName(a.mailboxId)} isAdmin={user.isAdmin} />
          ))}
        </ol>
      ) : null}
      <MoreButton nextCursor={nextCursor} busy={loading} onMore={(cursor) => void load(cursor, current.current)} />
    </section>
  );
}
