/**
 * Email activities: the list with its filters (kept in the address), one email with its parties resolved to CRM
 * records, its bodies, attachments and conversation, and composing (or answering) an email.
 */
import type { Static } from '@sinclair/typebox';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type * as S from '../../api/schemas.js';
import { type ApiError, del, get, post } from '../api.js';
import { navigate, setQuery } from '../router.js';
import type { Activity, ActivityCreate, ActivitySummary, Mailbox, Page, Party, User } from '../types.js';
import { asApiError, ErrorNotice, Field, Loading, MoreButton, Notice, PageHeader, Status, useLoad, useMorePages, useSession, When } from '../ui.js';
import { kindOfType, RECORD_KINDS } from './records.js';
import './activities.css';

type ActivityQuery = Static<typeof S.ActivityQuery>;
type RecordRef = NonNullable<Party['record']>;

const DIRECTIONS = ['incoming', 'outgoing'] as const;
const STATUSES = ['draft', 'pending-send', 'sending', 'sent', 'failed', 'received', 'delivery-uncertain'] as const;
const REGARDING_TYPES = ['contact', 'account', 'lead'] as const;

/** A message for the next activity page shown (a send refused after its draft was saved). */
let flash: { id: string; kind: 'warning' | 'success'; text: string } | null = null;

function activityPath(id: string): string {
  return `/activities/${id}`;
}

/** When an email happened: received for incoming email, sent (or else created) for outgoing. */
function activityTime(a: Pick<ActivitySummary, 'direction' | 'receivedAt' | 'sentAt' | 'createdAt'>): string {
  return (a.direction === 'incoming' ? a.receivedAt : a.sentAt) ?? a.createdAt;
}

function partyText(p: Party): string {
  return p.displayName ? `${p.displayName} <${p.address}>` : p.address;
}

/** The mailboxes the caller may see (an administrator's: every one), by id. */
function useMailboxes() {
  const loaded = useLoad(() => get<Page<Mailbox>>('/mailboxes', { limit: 500 }), []);
  const byId = useMemo(() => new Map((loaded.data?.items ?? []).map((m) => [m.id, m])), [loaded.data]);
  return { list: loaded.data?.items ?? [], byId, error: loaded.error };
}

function MailboxName(props: { id: string | null; byId: Map<string, Mailbox> }) {
  if (!props.id) return <span class="muted">none</span>;
  const mailbox = props.byId.get(props.id);
  if (!mailbox) return <span class="muted" title={props.id}>another mailbox</span>;
  return <a href={`/mailboxes/${mailbox.id}`}>{mailbox.name}</a>;
}

// ---- the list ----

/** A date field's day as the moment it starts (since) or the next day starts (until), in the browser's zone. */
function dayStart(day: string | null, nextDay = false): string | undefined {
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const date = new Date(y, m - 1, d + (nextDay ? 1 : 0));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

const FILTERS = ['direction', 'status', 'mailboxId', 'party', 'q', 'since', 'until'] as const;

export function ActivitiesPage(props: { query: URLSearchParams }) {
  const value = (name: (typeof FILTERS)[number]) => props.query.get(name) ?? '';
  const key = FILTERS.map((f) => `${f}=${value(f)}`).join('&');
  const request: ActivityQuery = {};
  if (value('direction')) request.direction = value('direction') as ActivityQuery['direction'];
  if (value('status')) request.status = value('status') as ActivityQuery['status'];
  if (value('mailboxId')) request.mailboxId = value('mailboxId');
  if (value('party')) request.party = value('party');
  if (value('q')) request.q = value('q');
  const since = dayStart(value('since'));
  const until = dayStart(value('until'), true);
  if (since) request.since = since;
  if (until) request.until = until;

  const mailboxes = useMailboxes();
  const first = useLoad(() => get<Page<ActivitySummary>>('/email-activities', { ...request }), [key]);
  const { items, nextCursor, loadMore, busy, error: moreError } = useMorePages(first, (cursor) => get<Page<ActivitySummary>>('/email-activities', { ...request, after: cursor }));

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setQuery(Object.fromEntries(FILTERS.map((f) => [f, String(form.get(f) ?? '').trim()])));
  };
  const error = first.error;
  const filterError = (name: string) => error?.forField(name) ?? null;
  const anyFilter = FILTERS.some((f) => value(f));

  return (
    <section>
      <PageHeader title="Email activities" subtitle="Email Liaison tracked and email sent from the CRM, newest first">
        <a class="button" href="/activities/new">
          New email
        </a>
      </PageHeader>
      <form key={key} class="filters activity-filters" role="search" aria-label="Filter email activities" onSubmit={apply}>
        <Field label="Direction" name="direction">
          {(attrs) => (
            <select {...attrs}>
              <option value="">Any</option>
              {DIRECTIONS.map((d) => (
                <option key={d} value={d} selected={d === value('direction')}>
                  {d}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Status" name="status">
          {(attrs) => (
            <select {...attrs}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s} selected={s === value('status')}>
                  {s.replace(/-/g, ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Mailbox" name="mailboxId">
          {(attrs) => (
            <select {...attrs}>
              <option value="">Any</option>
              {mailboxes.list.map((m) => (
                <option key={m.id} value={m.id} selected={m.id === value('mailboxId')}>
                  {m.name} ({m.emailAddress})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Party" name="party" error={filterError('party')} hint="From, to or cc: an address or part of one, or a name">
          {(attrs) => <input {...attrs} type="search" defaultValue={value('party')} maxLength={320} />}
        </Field>
        <Field label="Subject" name="q" error={filterError('q')}>
          {(attrs) => <input {...attrs} type="search" defaultValue={value('q')} maxLength={200} />}
        </Field>
        <Field label="From date" name="since" error={filterError('since')}>
          {(attrs) => <input {...attrs} type="date" defaultValue={value('since')} />}
        </Field>
        <Field label="To date" name="until" error={filterError('until')} hint="Up to the end of that day">
          {(attrs) => <input {...attrs} type="date" defaultValue={value('until')} />}
        </Field>
        <div class="actions filter-actions">
          <button type="submit">Search</button>
          {anyFilter ? (
            <a class="button secondary" href="/activities">
              Clear
            </a>
          ) : null}
        </div>
      </form>
      <ErrorNotice error={error} />
      {first.loading && !first.data ? <Loading what="email activities" /> : null}
      {first.data && items.length === 0 ? <p class="muted">{anyFilter ? 'No email matches these filters.' : 'No email activities yet.'}</p> : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table class="activities">
            <thead>
              <tr>
                <th scope="col">Direction</th>
                <th scope="col">Status</th>
                <th scope="col">Subject</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Mailbox</th>
                <th scope="col">Received / sent</th>
                <th scope="col">Attachments</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}>
                  <td>{a.direction}</td>
                  <td>
                    <Status value={a.status} />
                  </td>
                  <td class="subject">
                    <a href={activityPath(a.id)}>{a.subject || '(no subject)'}</a>
                  </td>
                  <td class="parties">{a.from.map(partyText).join(', ') || <span class="muted">—</span>}</td>
                  <td class="parties">
                    {a.to.length > 3 ? `${a.to.slice(0, 3).map(partyText).join(', ')} and ${a.to.length - 3} more` : a.to.map(partyText).join(', ') || <span class="muted">—</span>}
                  </td>
                  <td>
                    <MailboxName id={a.mailboxId} byId={mailboxes.byId} />
                  </td>
                  <td>
                    <When value={activityTime(a)} />
                  </td>
                  <td class="number">{a.attachments.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ErrorNotice error={moreError} />
      <MoreButton nextCursor={nextCursor} onMore={(cursor) => void loadMore(cursor)} busy={busy} />
    </section>
  );
}

// ---- one email ----

interface RecordName {
  name: string | null;
  /** Why the name could not be read (the API refused it, or the record is gone). */
  problem: string | null;
}

const refKey = (ref: RecordRef) => `${ref.type}:${ref.id}`;

/** The names of the records the email's parties and regarding point at, each read from its own route once. */
function useRecordNames(refs: RecordRef[]): Map<string, RecordName> {
  const wanted = [...new Map(refs.map((r) => [refKey(r), r])).values()];
  const key = wanted.map(refKey).sort().join(',');
  const [names, setNames] = useState<Map<string, RecordName>>(new Map());
  useEffect(() => {
    let live = true;
    void Promise.all(
      wanted.map(async (ref): Promise<[string, RecordName]> => {
        const kind = kindOfType(ref.type);
        if (!kind) return [refKey(ref), { name: null, problem: `a ${ref.type}` }];
        try {
          const record = await get<{ name: string }>(`${RECORD_KINDS[kind].path}/${ref.id}`);
          return [refKey(ref), { name: record.name, problem: null }];
        } catch (error) {
          const e = asApiError(error);
          return [refKey(ref), { name: null, problem: e.status === 404 ? 'deleted since' : e.status === 403 ? 'you may not read it' : e.message }];
        }
      }),
    ).then((entries) => {
      if (live) setNames(new Map(entries));
    });
    return () => {
      live = false;
    };
  }, [key]);
  return names;
}

function RecordLink(props: { record: RecordRef; names: Map<string, RecordName> }) {
  const kind = kindOfType(props.record.type);
  const found = props.names.get(refKey(props.record));
  const label = found?.name ?? (found ? `${props.record.type} (${found.problem})` : `${props.record.type}…`);
  return (
    <span class="record-ref">
      <span class="record-type">{props.record.type}</span> {kind ? <a href={`/records/${kind}/${props.record.id}`}>{label}</a> : label}
    </span>
  );
}

const ROLES = [
  { role: 'from', label: 'From' },
  { role: 'to', label: 'To' },
  { role: 'cc', label: 'Cc' },
  { role: 'bcc', label: 'Bcc' },
] as const;

export function ActivityPage(props: { params: Record<string, string> }) {
  const id = props.params.id!;
  const loaded = useLoad(() => get<Activity>(`/email-activities/${id}`), [id]);
  const [notice] = useState(() => {
    const mine = flash?.id === id ? flash : null;
    if (mine) flash = null;
    return mine;
  });
  if (!loaded.data) {
    return (
      <section>
        <PageHeader title="Email activity" />
        <ErrorNotice error={loaded.error} />
        {loaded.loading ? <Loading what="the email" /> : null}
        <p>
          <a href="/activities">Back to email activities</a>
        </p>
      </section>
    );
  }
  return <ActivityView activity={loaded.data} reload={loaded.reload} notice={notice} />;
}

function ActivityView(props: { activity: Activity; reload: () => Promise<void>; notice: typeof flash }) {
  const a = props.activity;
  const mailboxes = useMailboxes();
  const refs = [...a.from, ...a.to, ...a.cc, ...a.bcc].flatMap((p) => (p.record ? [p.record] : []));
  if (a.regarding) refs.push(a.regarding);
  const names = useRecordNames(refs);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const act = async (what: () => Promise<unknown>, success: string | null) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await what();
      await props.reload();
      setDone(success);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the draft “${a.subject || '(no subject)'}”? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    try {
      await del(`/email-activities/${a.id}`);
      navigate('/activities', { replace: true });
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(false);
    }
  };

  const canSend = a.direction === 'outgoing' && (a.status === 'draft' || a.status === 'failed');
  return (
    <section>
      <PageHeader title={a.subject || '(no subject)'} subtitle={<>{a.direction === 'incoming' ? 'Incoming email' : 'Outgoing email'} · <Status value={a.status} /></>}>
        {canSend ? (
          <button type="button" disabled={busy} onClick={() => void act(() => post(`/email-activities/${a.id}/send`), 'Sent to its mailbox’s outgoing synchronization: it leaves at the next cycle.')}>
            {a.status === 'failed' ? 'Send again' : 'Send'}
          </button>
        ) : null}
        {a.status !== 'draft' ? (
          <a class="button secondary" href={`/activities/new?replyTo=${a.id}`}>
            Reply
          </a>
        ) : null}
        {a.status === 'draft' ? (
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
            Delete draft
          </button>
        ) : null}
      </PageHeader>
      <p>
        <a href="/activities">Back to email activities</a>
      </p>
      {props.notice ? <Notice kind={props.notice.kind}>{props.notice.text}</Notice> : null}
      {done ? <Notice kind="success">{done}</Notice> : null}
      <ErrorNotice error={error} listProblems />
      {a.status === 'delivery-uncertain' ? (
        <div class="notice warning delivery" role="group" aria-labelledby="delivery-title">
          <h2 id="delivery-title">Did it arrive?</h2>
          <p>
            Nobody could know whether this email went: the outgoing server’s answer was lost after the message was handed over, and no Sent copy tells. Liaison never sends it again by itself. Ask a recipient, then say
            what happened:
          </p>
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void act(() => post(`/email-activities/${a.id}/delivery`, { delivered: true }), 'Marked as sent.')}>
              It arrived: mark it sent
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => void act(() => post(`/email-activities/${a.id}/delivery`, { delivered: false }), 'Back in pending send: it is sent again.')}>
              It did not arrive: send it again
            </button>
          </div>
        </div>
      ) : null}

      <dl class="facts">
        <dt>Direction</dt>
        <dd>{a.direction}</dd>
        <dt>Status</dt>
        <dd>
          <Status value={a.status} />
        </dd>
        <dt>Mailbox</dt>
        <dd>
          <MailboxName id={a.mailboxId} byId={mailboxes.byId} />
          {a.mailboxIds.length > 1 ? (
            <span class="muted">
              {' '}
              (also in{' '}
              {a.mailboxIds
                .filter((m) => m !== a.mailboxId)
                .map((m, i) => (
                  <span key={m}>
                    {i > 0 ? ', ' : ''}
                    <MailboxName id={m} byId={mailboxes.byId} />
                  </span>
                ))}
              )
            </span>
          ) : null}
        </dd>
        {a.direction === 'incoming' ? (
          <>
            <dt>Received</dt>
            <dd>
              <When value={a.receivedAt} />
            </dd>
          </>
        ) : null}
        <dt>Sent</dt>
        <dd>
          <When value={a.sentAt} empty={a.direction === 'outgoing' ? 'not yet' : 'unknown'} />
        </dd>
        <dt>Created</dt>
        <dd>
          <When value={a.createdAt} />
        </dd>
        <dt>Changed</dt>
        <dd>
          <When value={a.updatedAt} />
        </dd>
        <dt>Regarding</dt>
        <dd>{a.regarding ? <RecordLink record={a.regarding} names={names} /> : <span class="muted">nothing</span>}</dd>
        {a.trackingToken ? (
          <>
            <dt>Tracking token</dt>
            <dd>
              <code>{a.trackingToken}</code>
            </dd>
          </>
        ) : null}
      </dl>

      {a.direction === 'outgoing' ? (
        <section aria-labelledby="delivery-facts">
          <h2 id="delivery-facts">Delivery</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Status value={a.status} />
            </dd>
            <dt>Attempts</dt>
            <dd>{a.deliveryAttempts}</dd>
            <dt>Failure</dt>
            <dd>{a.failureReason ? <span class="failure">{a.failureReason}</span> : <span class="muted">none</span>}</dd>
          </dl>
        </section>
      ) : null}

      <section aria-labelledby="parties-title">
        <h2 id="parties-title">Parties</h2>
        <div class="table-wrap">
          <table class="parties-table">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Name</th>
                <th scope="col">Address</th>
                <th scope="col">CRM record</th>
              </tr>
            </thead>
            <tbody>
              {ROLES.flatMap(({ role, label }) =>
                a[role].map((p, i) => (
                  <tr key={`${role}-${i}`} data-testid="party" data-role={role}>
                    <td>{label}</td>
                    <td>{p.displayName ?? <span class="muted">—</span>}</td>
                    <td class="address">{p.address}</td>
                    <td>{p.record ? <RecordLink record={p.record} names={names} /> : <span class="muted">not resolved</span>}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="body-title">
        <h2 id="body-title">Body</h2>
        {a.bodyHtml ? (
          <>
            <h3>HTML</h3>
            {/* No scripts, no forms, no same origin: the email's HTML is shown, never run. */}
            <iframe class="body-html" sandbox="" srcdoc={a.bodyHtml} title="The email's HTML body" />
          </>
        ) : null}
        {a.bodyText ? (
          <>
            {a.bodyHtml ? <h3>Text</h3> : null}
            <pre class="body-text">{a.bodyText}</pre>
          </>
        ) : null}
        {!a.bodyHtml && !a.bodyText ? <p class="muted">The email has no body.</p> : null}
      </section>

      <section aria-labelledby="attachments-title">
        <h2 id="attachments-title">Attachments</h2>
        {a.attachments.length === 0 ? <p class="muted">None.</p> : null}
        {a.attachments.length > 0 ? (
          <ul class="attachments">
            {a.attachments.map((f) => (
              <li key={f.id}>
                <a href={`/api/v1/email-activities/${a.id}/attachments/${f.id}/content`} download={f.fileName}>
                  {f.fileName}
                </a>{' '}
                <span class="muted">
                  {f.contentType}, {formatBytes(f.size)}
                </span>
              </li>
            ))}
          </ul>
        ) : null}
        {a.notes.length > 0 ? (
          <>
            <h3>Notes</h3>
            <ul class="notes">
              {a.notes.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ul>
          </>
        ) : null}
      </section>

      <Conversation activity={a} />
    </section>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function Conversation(props: { activity: Activity }) {
  const a = props.activity;
  const isAdmin = useSession().user.isAdmin;
  const others = useLoad<Page<ActivitySummary> | null>(
    () => (a.conversationId ? get<Page<ActivitySummary>>('/email-activities', { conversationId: a.conversationId, limit: 100 }) : Promise.resolve(null)),
    [a.conversationId],
  );
  const answeredList = useLoad<Page<ActivitySummary> | null>(
    () => (a.inReplyTo ? get<Page<ActivitySummary>>('/email-activities', { messageId: a.inReplyTo, limit: 1 }) : Promise.resolve(null)),
    [a.inReplyTo],
  );
  const rest = (others.data?.items ?? []).filter((o) => o.id !== a.id);
  const answered = answeredList.data?.items[0];
  return (
    <section aria-labelledby="conversation-title">
      <h2 id="conversation-title">Conversation</h2>
      <dl class="facts">
        <dt>Message-ID</dt>
        <dd>{a.messageId ? <code>{a.messageId}</code> : <span class="muted">{a.direction === 'outgoing' ? 'given when it is sent' : 'none'}</span>}</dd>
        <dt>In reply to</dt>
        <dd>
          {a.inReplyTo ? <code>{a.inReplyTo}</code> : <span class="muted">nothing</span>}
          {answered ? (
            <>
              {' '}
              (<a href={activityPath(answered.id)}>{answered.subject || '(no subject)'}</a>)
            </>
          ) : null}
        </dd>
        <dt>References</dt>
        <dd>
          {a.references.length === 0 ? (
            <span class="muted">none</span>
          ) : (
            <ul class="references">
              {a.references.map((r) => (
                <li key={r}>
                  <code>{r}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Conversation</dt>
        <dd>{a.conversationId ? <code class="conversation-id">{a.conversationId}</code> : <span class="muted">none</span>}</dd>
      </dl>
      <ErrorNotice error={others.error} />
      {rest.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="muted">Other email of this conversation</caption>
            <thead>
              <tr>
                <th scope="col">Subject</th>
                <th scope="col">Direction</th>
                <th scope="col">Status</th>
                <th scope="col">From</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {rest.map((o) => (
                <tr key={o.id}>
                  <td>
                    <a href={activityPath(o.id)}>{o.subject || '(no subject)'}</a>
                  </td>
                  <td>{o.direction}</td>
                  <td>
                    <Status value={o.status} />
                  </td>
                  <td>{o.from.map(partyText).join(', ')}</td>
                  <td>
                    <When value={activityTime(o)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : a.conversationId && others.data ? (
        <p class="muted">No other email of this conversation is tracked{isAdmin ? '' : ' in your mailboxes'}.</p>
      ) : null}
    </section>
  );
}

// ---- composing ----

function addressList(text: string): string[] {
  return text
    .split(/[,;\n]/)
    .map((a) => a.trim())
    .filter(Boolean);
}

function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result ?? '');
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

/** The first line a reply's subject takes: "RE: " before the answered subject, once. */
function replySubject(subject: string): string {
  return /^re:/i.test(subject.trim()) ? subject : `RE: ${subject}`;
}

export function ComposePage(props: { query: URLSearchParams }) {
  const replyTo = props.query.get('replyTo');
  const answered = useLoad<Activity | null>(() => (replyTo ? get<Activity>(`/email-activities/${replyTo}`) : Promise.resolve(null)), [replyTo]);
  const mailboxes = useLoad(() => get<Page<Mailbox>>('/mailboxes', { limit: 500 }), []);
  if (replyTo && !answered.data) {
    return (
      <section>
        <PageHeader title="Reply" />
        <ErrorNotice error={answered.error} />
        {answered.loading ? <Loading what="the email being answered" /> : null}
      </section>
    );
  }
  if (!mailboxes.data) {
    return (
      <section>
        <PageHeader title={replyTo ? 'Reply' : 'New email'} />
        <ErrorNotice error={mailboxes.error} />
        {mailboxes.loading ? <Loading what="your mailboxes" /> : null}
      </section>
    );
  }
  return <ComposeForm answered={answered.data} mailboxes={mailboxes.data.items} />;
}

function ComposeForm(props: { answered: Activity | null; mailboxes: Mailbox[] }) {
  const { answered, mailboxes } = props;
  const me: User = useSession().user;
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<'draft' | 'send' | null>(null);
  const [files, setFiles] = useState<File[]>([]);
  const [regardingType, setRegardingType] = useState<string>(answered?.regarding?.type ?? '');
  const records = useLoad<Page<{ id: string; name: string; emailAddresses: string[] }> | null>(() => {
    const kind = kindOfType(regardingType);
    return kind ? get(RECORD_KINDS[kind].path, { limit: 500 }) : Promise.resolve(null);
  }, [regardingType]);

  // A reply goes from the mailbox the answered email is in (when the caller may send from it), to its sender
  // (incoming) or its recipients again (outgoing).
  const ownMailbox = mailboxes.find((m) => m.id === me.mailboxId)?.id ?? mailboxes[0]?.id ?? '';
  const defaultMailbox = (answered && mailboxes.find((m) => answered.mailboxIds.includes(m.id))?.id) || ownMailbox;
  const defaultTo = answered ? (answered.direction === 'incoming' ? answered.from : answered.to).map((p) => p.address).join(', ') : '';
  const defaultSubject = answered ? replySubject(answered.subject) : '';

  const submit = async (event: Event, mode: 'draft' | 'send') => {
    event.preventDefault();
    const formElement = ((event.currentTarget as HTMLElement).closest('form') ?? event.currentTarget) as HTMLFormElement;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? '');
    setBusy(mode);
    setError(null);
    try {
      const body: ActivityCreate = {
        subject: text('subject'),
        bodyText: text('bodyText') || null,
        to: addressList(text('to')),
        cc: addressList(text('cc')),
        bcc: addressList(text('bcc')),
      };
      if (text('mailboxId')) body.mailboxId = text('mailboxId');
      if (answered) body.inReplyToActivityId = answered.id;
      const type = text('regardingType');
      const recordId = text('regardingId');
      if (type && recordId) body.regarding = { type: type as (typeof REGARDING_TYPES)[number], id: recordId };
      if (files.length > 0) {
        body.attachments = await Promise.all(
          files.map(async (f) => ({ fileName: f.name, contentType: f.type || 'application/octet-stream', contentBase64: await readBase64(f) })),
        );
      }
      const draft = await post<Activity>('/email-activities', body);
      if (mode === 'send') {
        try {
          await post(`/email-activities/${draft.id}/send`);
        } catch (caught) {
          flash = { id: draft.id, kind: 'warning', text: `The draft was saved, but not sent: ${asApiError(caught).message}` };
        }
      }
      navigate(activityPath(draft.id));
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(null);
    }
  };

  const fieldError = (name: string) => error?.forField(name) ?? null;
  const shown = ['mailboxId', 'to', 'cc', 'bcc', 'subject', 'bodyText', 'regarding', 'attachments'];
  const allNextToFields = error !== null && error.problems.length > 0 && error.problems.every((p) => shown.some((f) => p.field === f || p.field.startsWith(`${f}/`) || p.field.startsWith(`${f}[`) || p.field.startsWith(`${f}.`)));
  const attachmentsError = [fieldError('attachments'), ...files.map((_, i) => error?.problems.filter((p) => p.field.startsWith(`attachments[${i}]`)).map((p) => `${files[i]!.name}: ${p.message}`).join('; ') || null)].filter(Boolean).join('; ') || null;
  const total = files.reduce((sum, f) => sum + f.size, 0);

  return (
    <section>
      <PageHeader title={answered ? 'Reply' : 'New email'} subtitle={answered ? <>Answering <a href={activityPath(answered.id)}>{answered.subject || '(no subject)'}</a></> : 'Saved as a draft, or sent from the mailbox you pick'} />
      <ErrorNotice error={error} listProblems={!allNextToFields} />
      {mailboxes.length === 0 ? <Notice kind="warning">You have no mailbox to send from.</Notice> : null}
      <form class="compose" noValidate onSubmit={(event) => void submit(event, 'send')}>
        <Field label="From mailbox" name="mailboxId" error={fieldError('mailboxId')}>
          {(attrs) => (
            <select {...attrs}>
              {mailboxes.map((m) => (
                <option key={m.id} value={m.id} selected={m.id === defaultMailbox}>
                  {m.name} ({m.emailAddress})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="To" name="to" error={fieldError('to')} hint="Addresses separated by commas">
          {(attrs) => <input {...attrs} type="text" defaultValue={defaultTo} autoComplete="off" />}
        </Field>
        <Field label="Cc" name="cc" error={fieldError('cc')}>
          {(attrs) => <input {...attrs} type="text" autoComplete="off" />}
        </Field>
        <Field label="Bcc" name="bcc" error={fieldError('bcc')}>
          {(attrs) => <input {...attrs} type="text" autoComplete="off" />}
        </Field>
        <Field label="Subject" name="subject" error={fieldError('subject')}>
          {(attrs) => <input {...attrs} type="text" defaultValue={defaultSubject} />}
        </Field>
        <Field label="Message" name="bodyText" error={fieldError('bodyText')}>
          {(attrs) => <textarea {...attrs} rows={10} />}
        </Field>
        <fieldset>
          <legend>Regarding</legend>
          <div class="regarding">
            <Field label="Record type" name="regardingType" hint={answered?.regarding ? 'The answered email’s record unless you pick another' : undefined}>
              {(attrs) => (
                <select {...attrs} onChange={(event) => setRegardingType((event.currentTarget as HTMLSelectElement).value)}>
                  <option value="" selected={regardingType === ''}>
                    Nothing
                  </option>
                  {REGARDING_TYPES.map((t) => (
                    <option key={t} value={t} selected={t === regardingType}>
                      {t}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {regardingType ? (
              <Field label="Record" name="regardingId" error={fieldError('regarding')}>
                {(attrs) => (
                  <select {...attrs} disabled={!records.data}>
                    <option value="">Pick one</option>
                    {(records.data?.items ?? []).map((r) => (
                      <option key={r.id} value={r.id} selected={r.id === answered?.regarding?.id}>
                        {r.name}
                        {r.emailAddresses[0] ? ` (${r.emailAddresses[0]})` : ''}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            ) : null}
          </div>
          <ErrorNotice error={records.error} />
        </fieldset>
        <Field
          label="Attachments"
          name="attachments"
          error={attachmentsError}
          hint={files.length > 0 ? `${files.length} file(s), ${formatBytes(total)} together` : 'Liaison refuses files over its size limit and some file types; its reason shows here'}
        >
          {(attrs) => <input {...attrs} type="file" multiple onChange={(event) => setFiles(Array.from((event.currentTarget as HTMLInputElement).files ?? []))} />}
        </Field>
        <div class="actions">
          <button type="submit" disabled={busy !== null || mailboxes.length === 0}>
            {busy === 'send' ? 'Sending…' : 'Send'}
          </button>
          <button type="button" class="secondary" disabled={busy !== null || mailboxes.length === 0} onClick={(event) => void submit(event, 'draft')}>
            {busy === 'draft' ? 'Saving…' : 'Save draft'}
          </button>
        </div>
      </form>
    </section>
  );
}
