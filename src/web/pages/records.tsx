/**
 * The records email resolves to: contacts, accounts and leads (anyone lists and changes them), users (an
 * administrator's; a user sees only themselves) and queues (everyone reads them, an administrator changes them).
 */
import type { Static } from '@sinclair/typebox';
import { useState } from 'preact/hooks';
import type * as S from '../../api/schemas.js';
import { type ApiError, del, get, patch, post, put } from '../api.js';
import { navigate } from '../router.js';
import type { CrmRecord, Page, Queue, User } from '../types.js';
import { asApiError, ErrorNotice, Field, Loading, MoreButton, Notice, PageHeader, useLoad, useMorePages, useSession, When } from '../ui.js';
import './records.css';

type UserCreate = Static<typeof S.UserCreate>;
type QueueCreate = Static<typeof S.QueueCreate>;
type CrmRecordCreate = Static<typeof S.CrmRecordCreate>;

export type RecordKind = 'contacts' | 'accounts' | 'leads' | 'users' | 'queues';

export const RECORD_KINDS: Record<RecordKind, { one: string; many: string; path: string }> = {
  contacts: { one: 'Contact', many: 'Contacts', path: '/contacts' },
  accounts: { one: 'Account', many: 'Accounts', path: '/accounts' },
  leads: { one: 'Lead', many: 'Leads', path: '/leads' },
  users: { one: 'User', many: 'Users', path: '/users' },
  queues: { one: 'Queue', many: 'Queues', path: '/queues' },
};

/** The record kind of a party's or a regarding reference (`contact`), as this page's address names it. */
export function kindOfType(type: string): RecordKind | null {
  const kind = `${type}s`;
  return kind in RECORD_KINDS ? (kind as RecordKind) : null;
}

const INCOMING_FILTERS: Array<{ value: User['incomingFilter']; label: string }> = [
  { value: 'all', label: 'All email' },
  { value: 'responses-to-crm-email', label: 'Responses to email sent from the CRM' },
  { value: 'from-crm-records', label: 'Email from contacts, accounts and leads' },
  { value: 'from-email-enabled-records', label: 'Email from any record with an address (users and queues too)' },
  { value: 'none', label: 'None' },
];

type AnyRecord = CrmRecord | User | Queue;

function addressesOf(record: AnyRecord): string[] {
  return 'emailAddresses' in record ? record.emailAddresses : [record.email];
}

function isKind(kind: string | undefined): kind is RecordKind {
  return kind !== undefined && kind in RECORD_KINDS;
}

function UnknownKind(props: { kind: string | undefined }) {
  return (
    <section>
      <PageHeader title="No such records" />
      <p>
        There are no records of the kind <code>{props.kind}</code>. Pick one: {Object.keys(RECORD_KINDS).map((k, i) => <span key={k}>{i > 0 ? ', ' : ''}<a href={`/records/${k}`}>{k}</a></span>)}.
      </p>
    </section>
  );
}

/** Who may create and change records of this kind: the API refuses the others, so the console offers them nothing. */
function mayChange(kind: RecordKind, isAdmin: boolean): boolean {
  return isAdmin || (kind !== 'users' && kind !== 'queues');
}

export function RecordsPage(props: { params: Record<string, string> }) {
  const kind = props.params.kind;
  if (!isKind(kind)) return <UnknownKind kind={kind} />;
  return <RecordList key={kind} kind={kind} />;
}

function RecordList(props: { kind: RecordKind }) {
  const { kind } = props;
  const info = RECORD_KINDS[kind];
  const session = useSession();
  const isAdmin = session.user.isAdmin;
  // A user who is not an administrator may read only themselves of the users.
  const ownOnly = kind === 'users' && !isAdmin;
  const first = useLoad<Page<AnyRecord>>(
    () => (ownOnly ? get<User>('/users/me').then((me) => ({ items: [me], nextCursor: null })) : get<Page<AnyRecord>>(info.path)),
    [kind, ownOnly],
  );
  const { items, nextCursor, loadMore, busy, error: moreError } = useMorePages(first, (cursor) => get<Page<AnyRecord>>(info.path, { after: cursor }));

  return (
    <section>
      <PageHeader title={info.many} subtitle={ownOnly ? 'Only an administrator lists every user; this is you.' : undefined}>
        {mayChange(kind, isAdmin) ? (
          <a class="button" href={`/records/${kind}/new`}>
            New {info.one.toLowerCase()}
          </a>
        ) : null}
      </PageHeader>
      <ErrorNotice error={first.error} />
      {first.loading && !first.data ? <Loading what={info.many.toLowerCase()} /> : null}
      {first.data && items.length === 0 ? <p class="muted">No {info.many.toLowerCase()} yet.</p> : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table class="records">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email addresses</th>
                {kind === 'users' ? <th scope="col">Role</th> : null}
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((record) => (
                <tr key={record.id}>
                  <td>
                    <a href={`/records/${kind}/${record.id}`}>{record.name}</a>
                  </td>
                  <td>
                    {addressesOf(record).length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="addresses">
                        {addressesOf(record).map((a) => (
                          <li key={a}>{a}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                  {kind === 'users' ? <td>{(record as User).isAdmin ? 'Administrator' : 'User'}</td> : null}
                  <td>
                    <When value={record.createdAt} />
                  </td>
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

export function RecordFormPage(props: { params: Record<string, string> }) {
  const kind = props.params.kind;
  if (!isKind(kind)) return <UnknownKind kind={kind} />;
  return <RecordForm key={`${kind}/${props.params.id ?? 'new'}`} kind={kind} id={props.params.id ?? null} />;
}

/** What a form shows after it moved to the record it just created (a new user whose password was refused). */
let carried: { path: string; error: ApiError; saved: string } | null = null;

function RecordForm(props: { kind: RecordKind; id: string | null }) {
  const { kind, id } = props;
  const info = RECORD_KINDS[kind];
  const session = useSession();
  const isAdmin = session.user.isAdmin;
  const loaded = useLoad<AnyRecord | null>(() => (id ? get<AnyRecord>(`${info.path}/${id}`) : Promise.resolve(null)), [kind, id]);
  const [initial] = useState(() => {
    const mine = carried?.path === `/records/${kind}/${id}` ? carried : null;
    if (mine) carried = null;
    return mine;
  });
  const [error, setError] = useState<ApiError | null>(initial?.error ?? null);
  const [saved, setSaved] = useState<string | null>(initial?.saved ?? null);
  const [busy, setBusy] = useState(false);
  // Grows at every save: the form is drawn again from the saved record (and its password fields emptied).
  const [version, setVersion] = useState(0);

  const own = kind === 'users' && id === session.user.id;
  const editable = mayChange(kind, isAdmin);
  // A user changes their own incoming filter and password, nothing else of theirs.
  const filterEditable = editable || own;
  const title = id ? (loaded.data?.name ?? info.one) : `New ${info.one.toLowerCase()}`;

  if (id && !loaded.data) {
    return (
      <section>
        <PageHeader title={info.one} />
        <ErrorNotice error={loaded.error} />
        {loaded.loading ? <Loading /> : null}
        <p>
          <a href={`/records/${kind}`}>Back to {info.many.toLowerCase()}</a>
        </p>
      </section>
    );
  }
  if (!id && !editable) {
    return (
      <section>
        <PageHeader title={title} />
        <Notice kind="warning">Only an administrator may create {info.many.toLowerCase()}.</Notice>
      </section>
    );
  }
  const record = loaded.data;

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      let body: UserCreate | QueueCreate | CrmRecordCreate | { incomingFilter: string };
      if (kind === 'users') {
        body = editable
          ? { name: text('name'), email: text('email'), isAdmin: form.get('isAdmin') === 'on', incomingFilter: text('incomingFilter') as UserCreate['incomingFilter'] }
          : { incomingFilter: text('incomingFilter') };
      } else if (kind === 'queues') {
        body = {
          name: text('name'),
          email: text('email'),
          ...(text('ownerId') ? { ownerId: text('ownerId') } : {}),
          incomingFilter: text('incomingFilter') as QueueCreate['incomingFilter'],
        };
      } else {
        body = {
          name: text('name'),
          emailAddresses: text('emailAddresses')
            .split(/[\r\n]+/)
            .map((a) => a.trim())
            .filter(Boolean),
        };
      }
      const result = id ? await patch<AnyRecord>(`${info.path}/${id}`, body) : await post<AnyRecord>(info.path, body);
      const password = String(form.get('password') ?? '');
      if (kind === 'users' && password) {
        const currentPassword = String(form.get('currentPassword') ?? '');
        try {
          await put(`/users/${result.id}/password`, { password, ...(own ? { currentPassword } : {}) });
        } catch (caught) {
          if (id) throw caught;
          // The user exists now: their own page shows why the password was refused, and another try changes them.
          carried = { path: `/records/${kind}/${result.id}`, error: asApiError(caught), saved: 'The user was created, but the password was not set.' };
          navigate(carried.path, { replace: true });
          return;
        }
      }
      if (id) {
        await loaded.reload();
        setVersion((v) => v + 1);
        setSaved(`Saved${kind === 'users' && password ? '; the new password is set' : ''}.`);
      } else {
        navigate(`/records/${kind}/${result.id}`, { replace: true });
      }
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!id || !window.confirm(`Delete ${info.one.toLowerCase()} “${record?.name ?? id}”? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    try {
      await del(`${info.path}/${id}`);
      navigate(`/records/${kind}`, { replace: true });
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(false);
    }
  };

  const fieldError = (name: string) => error?.forField(name) ?? null;
  const shownFields = kind === 'users' ? ['name', 'email', 'isAdmin', 'incomingFilter', 'password', 'currentPassword'] : kind === 'queues' ? ['name', 'email', 'ownerId', 'incomingFilter'] : ['name', 'emailAddresses'];
  const allNextToFields = error !== null && error.problems.length > 0 && error.problems.every((p) => shownFields.some((f) => p.field === f || p.field.startsWith(`${f}/`)));

  return (
    <section>
      <PageHeader title={title} subtitle={record ? <>Created <When value={record.createdAt} />, changed <When value={record.updatedAt} /></> : undefined}>
        {record ? (
          <a class="button secondary" href={`/activities?party=${encodeURIComponent(addressesOf(record)[0] ?? record.name)}`}>
            Email activities
          </a>
        ) : null}
        {record && editable && !own ? (
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
            Delete
          </button>
        ) : null}
      </PageHeader>
      <p>
        <a href={`/records/${kind}`}>Back to {info.many.toLowerCase()}</a>
      </p>
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      <ErrorNotice error={error} listProblems={!allNextToFields} />
      {!editable && !own ? <Notice kind="info">Only an administrator may change {info.many.toLowerCase()}.</Notice> : null}
      <form key={version} class="record-form" onSubmit={(event) => void submit(event)} noValidate>
        <Field label="Name" name="name" error={fieldError('name')}>
          {(attrs) => <input {...attrs} type="text" required maxLength={200} defaultValue={record?.name ?? ''} disabled={!editable} />}
        </Field>
        {kind === 'users' || kind === 'queues' ? (
          <Field label="Email address" name="email" error={fieldError('email')} hint={kind === 'queues' ? 'The address of the queue’s mailbox' : 'The address of the user’s mailbox, and their sign-in name'}>
            {(attrs) => <input {...attrs} type="email" required defaultValue={(record as User | Queue | null)?.email ?? ''} disabled={!editable} />}
          </Field>
        ) : (
          <Field label="Email addresses" name="emailAddresses" error={fieldError('emailAddresses')} hint="One address a line; email from or to any of them resolves to this record.">
            {(attrs) => <textarea {...attrs} rows={4} defaultValue={(record as CrmRecord | null)?.emailAddresses.join('\n') ?? ''} />}
          </Field>
        )}
        {kind === 'users' ? (
          <div class="field checkbox">
            <input id="record-isAdmin" name="isAdmin" type="checkbox" defaultChecked={(record as User | null)?.isAdmin ?? false} disabled={!editable} aria-describedby={fieldError('isAdmin') ? 'record-isAdmin-error' : undefined} />
            <label for="record-isAdmin">Administrator</label>
            {fieldError('isAdmin') ? (
              <p class="field-error" id="record-isAdmin-error">
                {fieldError('isAdmin')}
              </p>
            ) : null}
          </div>
        ) : null}
        {kind === 'queues' ? <OwnerField value={(record as Queue | null)?.ownerId ?? session.user.id} error={fieldError('ownerId')} disabled={!editable} isAdmin={isAdmin} /> : null}
        {kind === 'users' || kind === 'queues' ? (
          <Field label="Incoming email tracked" name="incomingFilter" error={fieldError('incomingFilter')} hint="Which email arriving in this mailbox becomes an email activity">
            {(attrs) => (
              <select {...attrs} disabled={!filterEditable}>
                {INCOMING_FILTERS.map((f) => (
                  <option key={f.value} value={f.value} selected={f.value === ((record as User | Queue | null)?.incomingFilter ?? (kind === 'users' ? 'responses-to-crm-email' : 'all'))}>
                    {f.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : null}
        {kind === 'users' && (isAdmin || own) ? (
          <fieldset>
            <legend>Console password</legend>
            {own ? (
              <Field label="Current password" name="currentPassword" error={fieldError('currentPassword')} hint="Needed to change your own password">
                {(attrs) => <input {...attrs} type="password" autoComplete="current-password" />}
              </Field>
            ) : null}
            <Field label="Set password" name="password" error={fieldError('password')} hint={own ? 'Leave empty to keep your password; your other sessions end when it changes.' : 'Leave empty to keep the password; setting one ends the user’s console sessions (their API tokens keep working).'}>
              {(attrs) => <input {...attrs} type="password" autoComplete="new-password" />}
            </Field>
          </fieldset>
        ) : null}
        {editable || own ? (
          <div class="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : id ? 'Save' : `Create ${info.one.toLowerCase()}`}
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}

/** A queue's owner: administrators pick from the users; the API refuses others the list, so they see the id. */
function OwnerField(props: { value: string; error: string | null; disabled: boolean; isAdmin: boolean }) {
  const users = useLoad<Page<User> | null>(() => (props.isAdmin ? get<Page<User>>('/users', { limit: 500 }) : Promise.resolve(null)), [props.isAdmin]);
  return (
    <Field label="Owner" name="ownerId" error={props.error} hint="The user who owns the queue's mailbox and sees its email">
      {(attrs) =>
        users.data ? (
          <select {...attrs} disabled={props.disabled}>
            {users.data.items.map((u) => (
              <option key={u.id} value={u.id} selected={u.id === props.value}>
                {u.name} ({u.email})
              </option>
            ))}
          </select>
        ) : (
          <input {...attrs} type="text" defaultValue={props.value} disabled={props.disabled} />
        )
      }
    </Field>
  );
}
