/**
 * One mailbox: its state and health, what of its owner's incoming email is tracked, its own login where its
 * profile uses one, its recent alerts, and for administrators Test & Enable, approval, enabling and its profile.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, del, get, patch, post, put } from '../api.js';
import type { AuditAnswer, MailboxDetail, Page, Profile, Queue, TestAndEnableOutcome, User } from '../types.js';
import { asApiError, ErrorNotice, Field, formatMs, Loading, Notice, PageHeader, Status, useLoad, useSession, When } from '../ui.js';
import { LastAudit, METHOD_LABELS, OutcomeView, SERVER_TYPE_LABELS, testOutcome } from './mailbox-parts.js';
import './mailboxes.css';

type IncomingFilter = User['incomingFilter'];

const FILTER_LABELS: Record<IncomingFilter, string> = {
  all: 'All email messages',
  'responses-to-crm-email': 'Email messages in response to CRM email',
  'from-crm-records': 'Email messages from CRM leads, contacts and accounts',
  'from-email-enabled-records': 'Email messages from CRM records that are email enabled',
  none: 'No email messages',
};

type Owner = { kind: 'user'; user: User } | { kind: 'queue'; queue: Queue; owner: User | null };

async function loadOwner(mailbox: MailboxDetail | null): Promise<Owner | null> {
  if (!mailbox) return null;
  if (mailbox.userId) return { kind: 'user', user: await get<User>(`/users/${mailbox.userId}`) };
  if (mailbox.queueId) {
    const queue = await get<Queue>(`/queues/${mailbox.queueId}`);
    // Another user owning the queue is readable by administrators only; the queue's name is enough then.
    const owner = await get<User>(`/users/${queue.ownerId}`).catch(() => null);
    return { kind: 'queue', queue, owner };
  }
  return null;
}

export function MailboxPage(props: { params: Record<string, string> }) {
  const id = props.params.id ?? '';
  const { user: me } = useSession();
  const isAdmin = me.isAdmin;
  const loaded = useLoad(() => get<MailboxDetail>(`/mailboxes/${encodeURIComponent(id)}`), [id]);
  const mailbox = loaded.data;
  const owner = useLoad(() => loadOwner(mailbox), [mailbox?.userId, mailbox?.queueId]);

  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [tested, setTested] = useState<TestAndEnableOutcome | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [auditNote, setAuditNote] = useState<string | null>(null);

  useEffect(() => {
    setAuditNote(null);
    setTested(null);
    setMessage(null);
    setActionError(null);
  }, [id]);

  if (!mailbox) {
    return (
      <section>
        <PageHeader title="Mailbox" />
        {loaded.error ? (
          <div class="notice error" role="alert">
            <strong>{loaded.error.status === 403 ? 'Not allowed: ' : loaded.error.status === 404 ? 'Not found: ' : 'Could not open the mailbox: '}</strong>
            {loaded.error.message}
            <p>
              <a href="/mailboxes">Back to the mailboxes</a>
            </p>
          </div>
        ) : (
          <Loading what="the mailbox" />
        )}
      </section>
    );
  }

  const act = async (progress: string, action: () => Promise<void>) => {
    setBusy(progress);
    setActionError(null);
    setMessage(null);
    try {
      await action();
      await loaded.reload();
    } catch (error) {
      setActionError(asApiError(error));
    } finally {
      setBusy(null);
    }
  };

  const testAndEnable = () =>
    act('Testing the mailbox…', async () => {
      setTested(await post<TestAndEnableOutcome>(`/mailboxes/${mailbox.id}/test-and-enable`));
    });
  // The worker holding the mailbox's lease runs it after its next incoming pass; the API waits for it.
  const runAudit = () =>
    act('Auditing the mailbox: listing what the server holds…', async () => {
      const answer = await post<AuditAnswer>(`/mailboxes/${mailbox.id}/audit?wait=60`);
      setAuditNote(answer.status === 'queued' ? 'The audit is queued: no worker ran it within a minute; it runs at the mailbox\'s next cycle.' : null);
    });
  const change = (progress: string, body: Record<string, unknown>, done: string) =>
    act(progress, async () => {
      await patch(`/mailboxes/${mailbox.id}`, body);
      setMessage(done);
    });

  const profileLink: JSX.Element = mailbox.profile ? (
    isAdmin ? (
      <a href={`/profiles/${mailbox.profile.id}`}>{mailbox.profile.name}</a>
    ) : (
      <span>{mailbox.profile.name}</span>
    )
  ) : (
    <span class="muted">None</span>
  );
  const ownerText = (() => {
    const o = owner.data;
    if (!o) return owner.error ? <span class="muted">{owner.error.message}</span> : <span class="muted">…</span>;
    if (o.kind === 'user') return <span>{`${o.user.name} (${o.user.email})`}</span>;
    return <span>{`Queue ${o.queue.name}${o.owner ? `, owned by ${o.owner.name} (${o.owner.email})` : ''}`}</span>;
  })();

  return (
    <section>
      <PageHeader title={mailbox.name} subtitle={mailbox.emailAddress}>
        {isAdmin ? (
          <>
            <button type="button" disabled={busy !== null} onClick={() => void testAndEnable()}>
              Test &amp; Enable
            </button>
            {mailbox.enabled && mailbox.incomingMethod === 'server-side-sync' ? (
              <button type="button" class="secondary" disabled={busy !== null} onClick={() => void runAudit()}>
                Run Audit
              </button>
            ) : null}
            {mailbox.approvalStatus !== 'approved' ? (
              <button type="button" class="secondary" disabled={busy !== null} onClick={() => void change('Approving…', { approvalStatus: 'approved' }, 'The email address is approved.')}>
                Approve Email
              </button>
            ) : null}
            {mailbox.approvalStatus !== 'rejected' ? (
              <button type="button" class="secondary" disabled={busy !== null} onClick={() => void change('Rejecting…', { approvalStatus: 'rejected' }, 'The email address is rejected; the mailbox is disabled.')}>
                Reject Email
              </button>
            ) : null}
            {mailbox.enabled ? (
              <button type="button" class="danger" disabled={busy !== null} onClick={() => void change('Disabling…', { enabled: false }, 'The mailbox is disabled.')}>
                Disable
              </button>
            ) : (
              <button type="button" class="secondary" disabled={busy !== null} onClick={() => void change('Enabling…', { enabled: true }, 'The mailbox is enabled.')}>
                Enable
              </button>
            )}
          </>
        ) : null}
      </PageHeader>

      <p>
        <a href="/mailboxes">All mailboxes</a>
      </p>
      <div aria-live="polite" role="status" class="progress">
        {busy ? <p>{busy}</p> : null}
      </div>
      {message ? <Notice kind="success">{message}</Notice> : null}
      <ErrorNotice error={actionError} listProblems />
      <ErrorNotice error={loaded.error} />
      {tested ? <TestResult outcome={tested} /> : null}

      <dl class="facts">
        <dt>Type</dt>
        <dd>{mailbox.type === 'user' ? 'User' : 'Queue'}</dd>
        <dt>Owner</dt>
        <dd>{ownerText}</dd>
        <dt>Email server profile</dt>
        <dd>
          {profileLink}
          {mailbox.profile ? <span class="muted"> ({SERVER_TYPE_LABELS[mailbox.profile.serverType] ?? mailbox.profile.serverType})</span> : null}
        </dd>
        <dt>Approval</dt>
        <dd>
          <Status value={mailbox.approvalStatus === 'empty' ? 'not-approved' : mailbox.approvalStatus} />
        </dd>
        <dt>Enabled</dt>
        <dd>
          <Status value={mailbox.enabled ? 'enabled' : 'disabled'} label={mailbox.enabled ? 'yes' : 'no'} />
        </dd>
        <dt>Incoming</dt>
        <dd>
          <Status value={mailbox.incomingStatus} /> {METHOD_LABELS[mailbox.incomingMethod]}
        </dd>
        <dt>Outgoing</dt>
        <dd>
          <Status value={mailbox.outgoingStatus} /> {METHOD_LABELS[mailbox.outgoingMethod]}
        </dd>
        <dt>Last sync</dt>
        <dd>
          <When value={mailbox.lastSyncAt} empty="never" />
        </dd>
        <dt>Last success</dt>
        <dd>
          <When value={mailbox.lastSuccessAt} empty="never" />
        </dd>
        <dt>Next due</dt>
        <dd>
          <When value={mailbox.nextDueAt} empty={mailbox.enabled ? 'as soon as a worker is free' : 'not while disabled'} />
        </dd>
        <dt>Consecutive failures</dt>
        <dd>{mailbox.consecutiveFailures}</dd>
        <dt>Last error</dt>
        <dd>{mailbox.lastError ? <pre class="inline-pre">{mailbox.lastError}</pre> : <span class="muted">none</span>}</dd>
        <dt>Last test</dt>
        <dd>
          <When value={mailbox.lastTestAt} empty="never tested" />
        </dd>
        {mailbox.ewsUrl ? (
          <>
            <dt>EWS URL</dt>
            <dd>
              <code>{mailbox.ewsUrl}</code>
            </dd>
          </>
        ) : null}
      </dl>

      <LastAudit audit={mailbox.lastAudit} queuedNote={auditNote} />
      {isAdmin ? <ProfileChange mailbox={mailbox} onChanged={() => void loaded.reload()} /> : null}
      <TrackingFilter owner={owner.data} me={me} onChanged={() => void owner.reload()} />
      {mailbox.profile?.credentialSource === 'mailbox' ? <MailboxLogin mailbox={mailbox} onChanged={() => void loaded.reload()} /> : null}
      <Alerts mailbox={mailbox} />
    </section>
  );
}

function TestResult(props: { outcome: TestAndEnableOutcome }) {
  const { outcome } = props;
  const steps = outcome.result?.steps ?? [];
  return (
    <div class={`notice ${outcome.outcome === 'enabled' ? 'success' : 'error'}`} role={outcome.outcome === 'enabled' ? 'status' : 'alert'}>
      <strong>Test &amp; Enable:</strong> <OutcomeView outcome={testOutcome(outcome)} />
      {steps.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Result</th>
                <th scope="col">Time</th>
                <th scope="col">What happened</th>
              </tr>
            </thead>
            <tbody>
              {steps.map((s) => (
                <tr key={`${s.protocol ?? ''}${s.step}`}>
                  <td>{s.title}</td>
                  <td>
                    <Status value={s.status} />
                  </td>
                  <td>{formatMs(s.elapsedMs)}</td>
                  <td>
                    {s.summary}
                    {s.fix ? <p class="fix">Fix: {s.fix}</p> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function ProfileChange(props: { mailbox: MailboxDetail; onChanged: () => void }) {
  const profiles = useLoad(() => get<Page<Profile>>('/email-server-profiles', { limit: 500 }), []);
  const [choice, setChoice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const value = choice ?? props.mailbox.profileId ?? '';
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await patch(`/mailboxes/${props.mailbox.id}`, { profileId: value || null });
      setChoice(null);
      props.onChanged();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="section-form" onSubmit={(e) => void save(e)}>
      <h2>Email server profile</h2>
      <ErrorNotice error={profiles.error} />
      <Field label="Profile" name="profileId" error={error?.forField('profileId')} hint="Another profile disables the mailbox and resets its statuses: Test & Enable it again.">
        {(attrs) => (
          <select {...attrs} key={profiles.data ? 'loaded' : 'loading'} value={value} onChange={(e) => setChoice(e.currentTarget.value)}>
            <option value="">None</option>
            {(profiles.data?.items ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {error && !error.forField('profileId') ? <ErrorNotice error={error} listProblems /> : null}
      <button type="submit" class="secondary" disabled={busy || value === (props.mailbox.profileId ?? '')}>
        {busy ? 'Saving…' : 'Change profile'}
      </button>
    </form>
  );
}

/** The incoming filter of the mailbox's user or queue: who may change it is who the API lets (a user their own). */
function TrackingFilter(props: { owner: Owner | null; me: User; onChanged: () => void }) {
  const [choice, setChoice] = useState<IncomingFilter | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const { owner, me } = props;
  if (!owner) return null;
  const record = owner.kind === 'user' ? owner.user : owner.queue;
  const path = owner.kind === 'user' ? `/users/${owner.user.id}` : `/queues/${owner.queue.id}`;
  const mayChange = me.isAdmin || (owner.kind === 'user' && owner.user.id === me.id);
  const value = choice ?? record.incomingFilter;
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await patch(path, { incomingFilter: value });
      setChoice(null);
      setSaved(true);
      props.onChanged();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  const whose = owner.kind === 'user' ? `${owner.user.name}'s` : `queue ${owner.queue.name}'s`;
  return (
    <form class="section-form" onSubmit={(e) => void save(e)}>
      <h2>Tracked incoming email</h2>
      {mayChange ? (
        <>
          <Field label="Track incoming email" name="incomingFilter" error={error?.forField('incomingFilter')} hint={`The ${owner.kind}'s setting: which of ${whose} incoming email becomes email activities.`}>
            {(attrs) => (
              <select {...attrs} value={value} onChange={(e) => setChoice(e.currentTarget.value as IncomingFilter)}>
                {(Object.keys(FILTER_LABELS) as IncomingFilter[]).map((f) => (
                  <option key={f} value={f}>
                    {FILTER_LABELS[f]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {error && !error.forField('incomingFilter') ? <ErrorNotice error={error} /> : null}
          {saved ? <Notice kind="success">Saved.</Notice> : null}
          <button type="submit" class="secondary" disabled={busy || value === record.incomingFilter}>
            {busy ? 'Saving…' : 'Save filter'}
          </button>
        </>
      ) : (
        <p>
          {FILTER_LABELS[record.incomingFilter]} <span class="muted">(an administrator changes a queue's filter)</span>
        </p>
      )}
    </form>
  );
}

/** The mailbox's own login (IMAP/POP3 profiles that take each mailbox's): the user name shown, the password never. */
function MailboxLogin(props: { mailbox: MailboxDetail; onChanged: () => void }) {
  const { mailbox } = props;
  const [username, setUsername] = useState(mailbox.loginUsername ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setUsername(mailbox.loginUsername ?? ''), [mailbox.loginUsername]);

  const run = async (action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      await action();
      setPassword('');
      setSaved(done);
      props.onChanged();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };
  const save = (event: Event) => {
    event.preventDefault();
    void run(() => put(`/mailboxes/${mailbox.id}/login`, { username, password }), 'The login is saved.');
  };
  const hasLogin = mailbox.loginUsername !== null || mailbox.loginPasswordSet;
  return (
    <form class="section-form" onSubmit={save} autoComplete="off">
      <h2>The mailbox's own login</h2>
      <p class="muted">
        The profile {mailbox.profile?.name} logs in with each mailbox's own user name and password.{' '}
        {hasLogin ? (
          <>
            Now: <strong>{mailbox.loginUsername ?? '(no user name)'}</strong>, password {mailbox.loginPasswordSet ? 'set' : 'not set'}.
          </>
        ) : (
          <strong>None is set yet.</strong>
        )}
      </p>
      <Field label="User name" name="username" error={error?.forField('username')}>
        {(attrs) => <input {...attrs} value={username} onInput={(e) => setUsername(e.currentTarget.value)} required autoComplete="off" />}
      </Field>
      <Field label="Password" name="password" error={error?.forField('password')} hint="Write-only: stored encrypted, never shown. Enter it again to change the login.">
        {(attrs) => <input {...attrs} type="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required autoComplete="new-password" />}
      </Field>
      {error && !error.forField('username') && !error.forField('password') ? <ErrorNotice error={error} listProblems /> : null}
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save login'}
        </button>
        {hasLogin ? (
          <button type="button" class="danger" disabled={busy} onClick={() => void run(() => del(`/mailboxes/${mailbox.id}/login`), 'The login is removed.')}>
            Remove login
          </button>
        ) : null}
      </div>
    </form>
  );
}

function Alerts(props: { mailbox: MailboxDetail }) {
  const alerts = props.mailbox.recentAlerts;
  return (
    <>
      <h2>Alerts</h2>
      {alerts.length === 0 ? (
        <p class="muted">No alerts on this mailbox.</p>
      ) : (
        <ol class="alerts">
          {alerts.map((a) => (
            <li key={a.id} class={`alert ${a.level}`}>
              <p>
                <Status value={a.level} /> <When value={a.createdAt} /> <code>{a.code}</code>
              </p>
              <p>{a.message}</p>
              {a.serverResponse ? (
                <>
                  <p class="muted">The server's response:</p>
                  <pre>{a.serverResponse}</pre>
                </>
              ) : null}
              {a.fix ? <p class="fix">Fix: {a.fix}</p> : null}
            </li>
          ))}
        </ol>
      )}
      <p>
        <a href={`/alerts?mailboxId=${props.mailbox.id}`}>All alerts of this mailbox</a>
      </p>
    </>
  );
}
