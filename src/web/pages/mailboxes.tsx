/**
 * The mailboxes: a list filtered from the address, and for administrators the actions on the rows they select
 * (associate with a profile or the default one, approve or reject the address, Test & Enable), each row then
 * showing what became of it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, get, patch, post } from '../api.js';
import { setQuery } from '../router.js';
import type { Mailbox, Organization, Page, Profile, TestAndEnableResults, User } from '../types.js';
import { asApiError, ErrorNotice, Field, Loading, MoreButton, Notice, PageHeader, Status, useLoad, useSession, When } from '../ui.js';
import { APPROVAL_STATUSES, OutcomeView, type RowOutcome, shortText, SYNC_STATUSES, testOutcome } from './mailbox-parts.js';
import './mailboxes.css';

export { MailboxPage } from './mailbox-page.js';

const FILTER_KEYS = ['profileId', 'status', 'approvalStatus', 'ownerId', 'enabled', 'type'] as const;
type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

function readFilters(query: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const key of FILTER_KEYS) {
    const value = query.get(key);
    if (value) filters[key] = value;
  }
  return filters;
}

/** Every item of a list the API pages, up to its largest page (a console's select, not a report). */
async function firstPage<T>(path: string): Promise<T[]> {
  return (await get<Page<T>>(path, { limit: 500 })).items;
}

export function MailboxesPage(props: { query: URLSearchParams }) {
  const { user: me } = useSession();
  const isAdmin = me.isAdmin;
  const filters = readFilters(props.query);
  const filterKey = JSON.stringify(filters);

  const first = useLoad(() => get<Page<Mailbox>>('/mailboxes', filters), [filterKey]);
  const profiles = useLoad(() => (isAdmin ? firstPage<Profile>('/email-server-profiles') : Promise.resolve([])), [isAdmin]);
  const users = useLoad(() => (isAdmin ? firstPage<User>('/users') : Promise.resolve([])), [isAdmin]);

  const [rows, setRows] = useState<Mailbox[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [more, setMore] = useState<{ busy: boolean; error: ApiError | null }>({ busy: false, error: null });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [outcomes, setOutcomes] = useState<Map<string, RowOutcome>>(new Map());
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<{ kind: 'success' | 'warning' | 'info'; text: string } | null>(null);
  const [noDefault, setNoDefault] = useState(false);
  const [associateTo, setAssociateTo] = useState('');
  const defaultDetails = useRef<HTMLDetailsElement>(null);

  useEffect(() => {
    if (!first.data) return;
    setRows(first.data.items);
    setNextCursor(first.data.nextCursor);
    setSelected(new Set());
    setOutcomes(new Map());
  }, [first.data]);

  const profileName = new Map((profiles.data ?? []).map((p) => [p.id, p.name]));
  const selectedIds = rows.filter((r) => selected.has(r.id)).map((r) => r.id);

  const loadMore = async (cursor: string) => {
    setMore({ busy: true, error: null });
    try {
      const page = await get<Page<Mailbox>>('/mailboxes', { ...filters, after: cursor });
      setRows((current) => {
        const known = new Set(current.map((r) => r.id));
        return [...current, ...page.items.filter((r) => !known.has(r.id))];
      });
      setNextCursor(page.nextCursor);
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error: asApiError(error) });
    }
  };

  /** Puts the mailboxes an action answered with in place of their rows, and each one's outcome beside it. */
  const showResults = (changed: Array<{ mailbox: Mailbox; outcome: RowOutcome }>) => {
    const byId = new Map(changed.map((c) => [c.mailbox.id, c.mailbox]));
    setRows((current) => current.map((r) => byId.get(r.id) ?? r));
    setOutcomes((current) => {
      const next = new Map(current);
      for (const c of changed) next.set(c.mailbox.id, c.outcome);
      return next;
    });
  };

  const act = async (progress: string, action: (ids: string[]) => Promise<void>) => {
    setMessage(null);
    setActionError(null);
    setNoDefault(false);
    if (selectedIds.length === 0) {
      setMessage({ kind: 'warning', text: 'Select one or more mailboxes first (the boxes in the first column).' });
      return;
    }
    setBusy(progress);
    try {
      await action(selectedIds);
    } catch (error) {
      setActionError(asApiError(error));
    } finally {
      setBusy(null);
    }
  };

  const associate = async (ids: string[], profileId: string, name: string) => {
    const answer = await post<{ items: Mailbox[] }>('/mailboxes/associate', { mailboxIds: ids, profileId });
    showResults(answer.items.map((mailbox) => ({ mailbox, outcome: { status: 'success', label: 'associated', text: `with ${name}`, details: [] } })));
    setMessage({
      kind: 'success',
      text: `Associated ${plural(answer.items.length, 'mailbox', 'mailboxes')} with ${name}. A mailbox whose profile changed is disabled until it passes Test & Enable.`,
    });
  };

  const applyDefault = () =>
    act('Applying the default email server profile…', async (ids) => {
      const organization = await get<Organization>('/organization');
      if (!organization.defaultProfileId) {
        setNoDefault(true);
        return;
      }
      const profile = (profiles.data ?? []).find((p) => p.id === organization.defaultProfileId);
      await associate(ids, organization.defaultProfileId, profile ? `"${profile.name}"` : 'the default profile');
    });

  const associateWith = () =>
    act('Associating…', async (ids) => {
      if (!associateTo) {
        setMessage({ kind: 'warning', text: 'Choose the profile to associate the selected mailboxes with.' });
        return;
      }
      await associate(ids, associateTo, `"${profileName.get(associateTo) ?? associateTo}"`);
    });

  const approval = (approvalStatus: 'approved' | 'rejected') =>
    act(approvalStatus === 'approved' ? 'Approving…' : 'Rejecting…', async (ids) => {
      const answer = await post<{ items: Mailbox[] }>('/mailboxes/approval', { mailboxIds: ids, approvalStatus });
      showResults(
        answer.items.map((mailbox) => ({
          mailbox,
          outcome: { status: approvalStatus, label: approvalStatus, text: approvalStatus === 'approved' ? 'Email address approved' : 'Email address rejected', details: [] },
        })),
      );
      setMessage({ kind: 'success', text: `${approvalStatus === 'approved' ? 'Approved' : 'Rejected'} the email address of ${plural(answer.items.length, 'mailbox', 'mailboxes')}.` });
    });

  const testAndEnable = () =>
    act(`Testing ${plural(selectedIds.length, 'mailbox', 'mailboxes')}…`, async (ids) => {
      const answer = await post<TestAndEnableResults>('/mailboxes/test-and-enable', { ids });
      showResults(answer.items.map((item) => ({ mailbox: item.mailbox, outcome: testOutcome(item) })));
      const { enabled, failed, refused } = answer.summary;
      setMessage({ kind: failed + refused > 0 ? 'warning' : 'success', text: `Test & Enable: ${enabled} enabled, ${failed} failed, ${refused} refused.` });
    });

  const openDefaultSetting = () => {
    const details = defaultDetails.current;
    if (!details) return;
    details.open = true;
    details.scrollIntoView({ block: 'center' });
    details.querySelector('select')?.focus();
  };

  const toggle = (id: string, on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const someSelected = !allSelected && rows.some((r) => selected.has(r.id));
  const selectAll = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (selectAll.current) selectAll.current.indeterminate = someSelected;
  }, [someSelected]);

  const showOutcomes = outcomes.size > 0;

  return (
    <section>
      <PageHeader title="Mailboxes" subtitle={isAdmin ? 'Every user and queue has one.' : 'Your mailbox and your queues’.'} />

      <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Profile" name="profileId">
          {(attrs) => (
            // Keyed by whether the options arrived: a value set before its option exists would not show.
            <select {...attrs} key={profiles.data ? 'loaded' : 'loading'} value={filters.profileId ?? ''} onChange={(e) => setQuery({ profileId: e.currentTarget.value })}>
              <option value="">Any</option>
              <option value="none">None</option>
              {(profiles.data ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Sync status (in or out)" name="status">
          {(attrs) => (
            <select {...attrs} value={filters.status ?? ''} onChange={(e) => setQuery({ status: e.currentTarget.value })}>
              <option value="">Any</option>
              {SYNC_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('-', ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Approval" name="approvalStatus">
          {(attrs) => (
            <select {...attrs} value={filters.approvalStatus ?? ''} onChange={(e) => setQuery({ approvalStatus: e.currentTarget.value })}>
              <option value="">Any</option>
              {APPROVAL_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s === 'empty' ? 'not approved' : s}
                </option>
              ))}
            </select>
          )}
        </Field>
        {isAdmin ? (
          <Field label="Owner" name="ownerId">
            {(attrs) => (
              <select {...attrs} key={users.data ? 'loaded' : 'loading'} value={filters.ownerId ?? ''} onChange={(e) => setQuery({ ownerId: e.currentTarget.value })}>
                <option value="">Anyone</option>
                {(users.data ?? []).map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name} ({u.email})
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : null}
        <Field label="Enabled" name="enabled">
          {(attrs) => (
            <select {...attrs} value={filters.enabled ?? ''} onChange={(e) => setQuery({ enabled: e.currentTarget.value })}>
              <option value="">Any</option>
              <option value="true">Enabled</option>
              <option value="false">Disabled</option>
            </select>
          )}
        </Field>
        <Field label="Type" name="type">
          {(attrs) => (
            <select {...attrs} value={filters.type ?? ''} onChange={(e) => setQuery({ type: e.currentTarget.value })}>
              <option value="">Any</option>
              <option value="user">User</option>
              <option value="queue">Queue</option>
            </select>
          )}
        </Field>
      </form>

      {isAdmin ? (
        <div class="selection-bar" role="group" aria-label="Actions on the selected mailboxes">
          <p class="selection-count">{plural(selectedIds.length, 'mailbox', 'mailboxes')} selected</p>
          <div class="actions">
            <button type="button" disabled={busy !== null} onClick={() => void applyDefault()}>
              Apply Default Email Server Profile
            </button>
            <Field label="Profile to associate with" name="associateTo">
              {(attrs) => (
                <select {...attrs} value={associateTo} onChange={(e) => setAssociateTo(e.currentTarget.value)}>
                  <option value="">Choose a profile…</option>
                  {(profiles.data ?? []).map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <button type="button" class="secondary" disabled={busy !== null} onClick={() => void associateWith()}>
              Associate with profile
            </button>
            <button type="button" class="secondary" disabled={busy !== null} onClick={() => void approval('approved')}>
              Approve Email
            </button>
            <button type="button" class="secondary" disabled={busy !== null} onClick={() => void approval('rejected')}>
              Reject Email
            </button>
            <button type="button" disabled={busy !== null} onClick={() => void testAndEnable()}>
              Test &amp; Enable
            </button>
          </div>
        </div>
      ) : null}

      <div aria-live="polite" role="status" class="progress">
        {busy ? <p>{busy}</p> : null}
      </div>
      {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
      {noDefault ? (
        <Notice kind="warning">
          No default email server profile is set. Set one in{' '}
          <button type="button" class="link" onClick={openDefaultSetting}>
            Default email server profile
          </button>{' '}
          below (or with <code>PATCH /api/v1/organization {'{"defaultProfileId": …}'}</code>), or choose a profile and use Associate with profile.
        </Notice>
      ) : null}
      <ErrorNotice error={actionError} listProblems />
      <ErrorNotice error={first.error} listProblems />

      {first.loading && !first.data ? (
        <Loading what="mailboxes" />
      ) : (
        <div class="table-wrap">
          <table class="mailboxes">
            <caption class="visually-hidden">Mailboxes</caption>
            <thead>
              <tr>
                {isAdmin ? (
                  <th scope="col" class="select">
                    <input
                      type="checkbox"
                      ref={selectAll}
                      aria-label="Select all mailboxes shown"
                      checked={allSelected}
                      onChange={(e) => setSelected(e.currentTarget.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                    />
                  </th>
                ) : null}
                <th scope="col">Mailbox</th>
                <th scope="col">Type</th>
                <th scope="col">Profile</th>
                <th scope="col">Approval</th>
                <th scope="col">Incoming</th>
                <th scope="col">Outgoing</th>
                <th scope="col">Enabled</th>
                <th scope="col">Last sync</th>
                <th scope="col">Failures</th>
                <th scope="col">Last error</th>
                {showOutcomes ? <th scope="col">Outcome</th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colSpan={12} class="muted">
                    No mailbox matches these filters.
                  </td>
                </tr>
              ) : null}
              {rows.map((m) => (
                <tr key={m.id} class={selected.has(m.id) ? 'selected' : ''}>
                  {isAdmin ? (
                    <td class="select">
                      <input type="checkbox" aria-label={`Select ${m.emailAddress}`} checked={selected.has(m.id)} onChange={(e) => toggle(m.id, e.currentTarget.checked)} />
                    </td>
                  ) : null}
                  <td>
                    <a href={`/mailboxes/${m.id}`}>{m.name}</a>
                    <div class="muted address">{m.emailAddress}</div>
                  </td>
                  <td>{m.type === 'user' ? 'User' : 'Queue'}</td>
                  <td>{m.profileId ? (profileName.get(m.profileId) ?? <span class="muted">set</span>) : <span class="muted">None</span>}</td>
                  <td>
                    <Status value={m.approvalStatus === 'empty' ? 'not-approved' : m.approvalStatus} />
                  </td>
                  <td>
                    <Status value={m.incomingStatus} />
                  </td>
                  <td>
                    <Status value={m.outgoingStatus} />
                  </td>
                  <td>
                    <Status value={m.enabled ? 'enabled' : 'disabled'} label={m.enabled ? 'yes' : 'no'} />
                  </td>
                  <td>
                    <When value={m.lastSyncAt} empty="never" />
                  </td>
                  <td class="number">{m.consecutiveFailures}</td>
                  <td class="last-error">{shortText(m.lastError)}</td>
                  {showOutcomes ? (
                    <td class="outcome-cell">
                      <OutcomeView outcome={outcomes.get(m.id)} />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorNotice error={more.error} />
      <MoreButton nextCursor={nextCursor} busy={more.busy} onMore={(cursor) => void loadMore(cursor)} />

      {isAdmin ? <DefaultProfileSetting detailsRef={defaultDetails} profiles={profiles.data ?? []} onSaved={() => setNoDefault(false)} /> : null}
    </section>
  );
}

/** The organization's default email server profile, the one Apply Default Email Server Profile associates with. */
function DefaultProfileSetting(props: { detailsRef: { current: HTMLDetailsElement | null }; profiles: Profile[]; onSaved: () => void }) {
  const organization = useLoad(() => get<Organization>('/organization'), []);
  const [choice, setChoice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const current = organization.data?.defaultProfileId ?? '';
  const value = choice ?? current;
  const currentName = props.profiles.find((p) => p.id === current)?.name;

  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await patch<Organization>('/organization', { defaultProfileId: value || null });
      await organization.reload();
      setChoice(null);
      setSaved(true);
      props.onSaved();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details class="default-profile" ref={props.detailsRef} id="default-profile">
      <summary>
        Default email server profile: <strong>{organization.data ? (currentName ?? (current ? current : 'none')) : '…'}</strong>
      </summary>
      <form onSubmit={(e) => void save(e)}>
        <ErrorNotice error={organization.error} />
        <Field
          label="Default email server profile"
          name="defaultProfileId"
          error={error?.forField('defaultProfileId')}
          hint="What Apply Default Email Server Profile associates the selected mailboxes with. A profile cannot be deleted while it is the default."
        >
          {(attrs) => (
            <select {...attrs} key={`${props.profiles.length}`} value={value} onChange={(e) => setChoice(e.currentTarget.value)}>
              <option value="">None</option>
              {props.profiles.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        {error && !error.forField('defaultProfileId') ? <ErrorNotice error={error} /> : null}
        {saved ? <Notice kind="success">Saved.</Notice> : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save default'}
        </button>
      </form>
    </details>
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
