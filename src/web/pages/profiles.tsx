/**
 * Email Server Profiles: the list, and the form that creates and changes one (General, Server location,
 * Credentials, Advanced), with Test Connection showing each step as it completes.
 *
 * Which fields a server type uses, and when the others apply, follows src/domain/profile.ts (that module reads
 * certificates with node:crypto, so the console cannot import it): fields that do not apply are hidden and not
 * sent, and the API's save-time rules are shown next to the field they concern. The limits shown as hints are
 * read from the API's own OpenAPI document, so they are the numbers the API enforces.
 */
import type { Static } from '@sinclair/typebox';
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type * as S from '../../api/schemas.js';
import { type ApiError, del, get, patch, post } from '../api.js';
import { navigate } from '../router.js';
import type { Page, Profile, User } from '../types.js';
import { asApiError, ErrorNotice, Field, Loading, MoreButton, Notice, PageHeader, Status, useLoad, useSession, When } from '../ui.js';
import { TestConnectionPanel } from './profile-test.js';
import './profiles.css';

type ServerType = Profile['serverType'];
type ProfileBody = Partial<Static<typeof S.ProfileCreate>>;

export const SERVER_TYPE_LABELS: Record<ServerType, string> = {
  exchange: 'Exchange Server (EWS)',
  'exchange-online': 'Exchange Online (Microsoft Graph)',
  'imap-smtp': 'IMAP/SMTP',
  'pop3-smtp': 'POP3/SMTP',
};
const SERVER_TYPES = Object.keys(SERVER_TYPE_LABELS) as ServerType[];

// ---- the list ----

export function ProfilesPage() {
  const [cursor, setCursor] = useState<string | null>(null);
  const [items, setItems] = useState<Profile[]>([]);
  const page = useLoad(() => get<Page<Profile>>('/email-server-profiles', { limit: 100, after: cursor }), [cursor]);
  const users = useLoad(() => get<Page<User>>('/users', { limit: 500 }), []);
  useEffect(() => {
    if (page.data) setItems((before) => (cursor ? [...before, ...page.data!.items] : page.data!.items));
  }, [page.data]);
  const owners = new Map((users.data?.items ?? []).map((u) => [u.id, u]));
  return (
    <section class="profiles-list">
      <PageHeader title="Email Server Profiles" subtitle="How Liaison reaches each mail server, and with which account">
        <a class="button" href="/profiles/new">
          New profile
        </a>
      </PageHeader>
      <ErrorNotice error={page.error} />
      {page.loading && items.length === 0 ? <Loading what="profiles" /> : null}
      {!page.loading && items.length === 0 && !page.error ? (
        <Notice>
          No email server profile yet. <a href="/profiles/new">Create one</a> to connect mailboxes to a mail server.
        </Notice>
      ) : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table aria-label="Email server profiles">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Server type</th>
                <th scope="col">Incoming server</th>
                <th scope="col">Owner</th>
                <th scope="col">Last Test Connection</th>
              </tr>
            </thead>
            <tbody>
              {items.map((profile) => {
                const owner = owners.get(profile.ownerId);
                const last = profile.lastTestResult;
                return (
                  <tr key={profile.id}>
                    <td>
                      <a href={`/profiles/${profile.id}`}>{profile.name}</a>
                    </td>
                    <td>{SERVER_TYPE_LABELS[profile.serverType]}</td>
                    <td class="break">
                      {profile.serverType === 'exchange' && profile.autodiscover ? 'Autodiscover' : (profile.incomingServer ?? <span class="muted">—</span>)}
                    </td>
                    <td>{owner ? owner.name : <span class="muted">{profile.ownerId}</span>}</td>
                    <td>
                      {last ? (
                        <span class="last-test">
                          <Status value={last.status} /> <When value={last.startedAt} />
                        </span>
                      ) : (
                        <Status value="not-run" />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <MoreButton nextCursor={page.data?.nextCursor ?? null} busy={page.loading} onMore={setCursor} />
    </section>
  );
}

// ---- the limits, from the API's OpenAPI document ----

interface PropertySchema {
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  default?: unknown;
}

let schemaPromise: Promise<Record<string, PropertySchema>> | null = null;

/** The create body's properties as the API documents them (min, max, default), or {} when it cannot be read. */
function profileSchema(): Promise<Record<string, PropertySchema>> {
  schemaPromise ??= get<{ paths: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, PropertySchema> } }> } } }> }>(
    '/openapi.json',
  )
    .then((doc) => doc.paths['/api/v1/email-server-profiles']?.post?.requestBody?.content?.['application/json']?.schema?.properties ?? {})
    .catch(() => ({}));
  return schemaPromise;
}

function rangeHint(schema: Record<string, PropertySchema>, name: string, unit = ''): string | null {
  const p = schema[name];
  if (!p || p.minimum === undefined || p.maximum === undefined) return null;
  return `From ${p.minimum} to ${p.maximum}${unit}${p.default !== undefined ? `; empty: ${String(p.default)}${unit} (the default)` : ''}.`;
}

// ---- the form's fields ----

type Values = Record<string, string | boolean>;

type Kind = 'text' | 'number' | 'bool' | 'secret' | 'datetime' | 'choice';

/**
 * Every field of the form, its kind, and when it applies (the server type, and the settings that switch others on).
 * A field that does not apply is neither shown nor sent.
 */
const FIELDS: Record<string, { kind: Kind; applies?: (v: Values) => boolean }> = {
  name: { kind: 'text' },
  description: { kind: 'text' },
  serverType: { kind: 'choice' },
  autodiscover: { kind: 'bool', applies: (v) => v.serverType === 'exchange' },
  authentication: { kind: 'choice', applies: (v) => v.serverType === 'exchange' },
  incomingServer: { kind: 'text' },
  incomingPort: { kind: 'number' },
  outgoingServer: { kind: 'text' },
  outgoingPort: { kind: 'number' },
  useSameSettingsForOutgoing: { kind: 'bool', applies: (v) => v.serverType !== 'exchange-online' },
  credentialSource: { kind: 'choice', applies: isMail },
  username: { kind: 'text', applies: profileLogin },
  password: { kind: 'secret', applies: profileLogin },
  masterUserSeparator: { kind: 'text', applies: (v) => isMail(v) && v.credentialSource === 'profile' },
  outgoingUsername: { kind: 'text', applies: separateOutgoing },
  outgoingPassword: { kind: 'secret', applies: separateOutgoing },
  tenantId: { kind: 'text', applies: isOnline },
  clientId: { kind: 'text', applies: isOnline },
  clientSecret: { kind: 'secret', applies: isOnline },
  clientCertificate: { kind: 'secret', applies: isOnline },
  authority: { kind: 'text', applies: isOnline },
  trustedCaPem: { kind: 'text' },
  processEmailFrom: { kind: 'datetime' },
  minPollingIntervalMinutes: { kind: 'number' },
  maxConcurrentConnections: { kind: 'number' },
  requestTimeoutSeconds: { kind: 'number' },
  // POP3 has no folders to move a failed email to.
  moveFailedToUndeliverable: { kind: 'bool', applies: (v) => v.serverType !== 'pop3-smtp' },
  notifyOwnerOnFailure: { kind: 'bool' },
  ownerId: { kind: 'choice' },
  deleteAfterTracking: { kind: 'bool', applies: (v) => v.serverType === 'pop3-smtp' },
  serverSavesSentCopy: { kind: 'bool', applies: (v) => v.serverType === 'imap-smtp' },
};

/** Number fields the API never stores empty: an emptied one is sent as its documented default. */
const NOT_NULLABLE = new Set(['minPollingIntervalMinutes', 'maxConcurrentConnections', 'requestTimeoutSeconds']);

function isMail(v: Values): boolean {
  return v.serverType === 'imap-smtp' || v.serverType === 'pop3-smtp';
}
function isOnline(v: Values): boolean {
  return v.serverType === 'exchange-online';
}
/** The profile's own login: Exchange's service account, or the IMAP/POP3 master user. */
function profileLogin(v: Values): boolean {
  return v.serverType === 'exchange' || (isMail(v) && v.credentialSource === 'profile');
}
function separateOutgoing(v: Values): boolean {
  return v.serverType !== 'exchange-online' && v.useSameSettingsForOutgoing === false;
}

export function applies(field: string, values: Values): boolean {
  return FIELDS[field]?.applies?.(values) ?? true;
}

/** `2025-01-31T09:30` in the browser's time zone, as a datetime-local control shows a moment. */
function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function initialValues(profile: Profile | null, me: string): Values {
  const text = (value: string | number | null | undefined) => (value === null || value === undefined ? '' : String(value));
  if (!profile) {
    return {
      name: '',
      description: '',
      serverType: 'exchange',
      autodiscover: true,
      authentication: 'basic',
      incomingServer: '',
      incomingPort: '',
      outgoingServer: '',
      outgoingPort: '',
      useSameSettingsForOutgoing: true,
      credentialSource: 'profile',
      username: '',
      password: '',
      masterUserSeparator: '',
      outgoingUsername: '',
      outgoingPassword: '',
      tenantId: '',
      clientId: '',
      clientSecret: '',
      clientCertificate: '',
      authority: '',
      trustedCaPem: '',
      processEmailFrom: '',
      minPollingIntervalMinutes: '',
      maxConcurrentConnections: '',
      requestTimeoutSeconds: '',
      moveFailedToUndeliverable: false,
      notifyOwnerOnFailure: false,
      ownerId: me,
      deleteAfterTracking: false,
      serverSavesSentCopy: false,
    };
  }
  return {
    name: profile.name,
    description: text(profile.description),
    serverType: profile.serverType,
    // A type without Autodiscover shows it on as Exchange's default, should the type be changed to Exchange.
    autodiscover: profile.serverType === 'exchange' ? profile.autodiscover : true,
    authentication: profile.authentication ?? 'basic',
    incomingServer: text(profile.incomingServer),
    incomingPort: text(profile.incomingPort),
    outgoingServer: text(profile.outgoingServer),
    outgoingPort: text(profile.outgoingPort),
    useSameSettingsForOutgoing: profile.useSameSettingsForOutgoing,
    credentialSource: profile.credentialSource ?? 'profile',
    username: text(profile.username),
    password: '',
    masterUserSeparator: text(profile.masterUserSeparator),
    outgoingUsername: text(profile.outgoingUsername),
    outgoingPassword: '',
    tenantId: text(profile.tenantId),
    clientId: text(profile.clientId),
    clientSecret: '',
    clientCertificate: '',
    authority: text(profile.authority),
    trustedCaPem: text(profile.trustedCaPem),
    processEmailFrom: toLocalInput(profile.processEmailFrom),
    minPollingIntervalMinutes: text(profile.minPollingIntervalMinutes),
    maxConcurrentConnections: text(profile.maxConcurrentConnections),
    requestTimeoutSeconds: text(profile.requestTimeoutSeconds),
    moveFailedToUndeliverable: profile.moveFailedToUndeliverable,
    notifyOwnerOnFailure: profile.notifyOwnerOnFailure,
    ownerId: profile.ownerId,
    deleteAfterTracking: profile.deleteAfterTracking,
    serverSavesSentCopy: profile.serverSavesSentCopy,
  };
}

/** A control's value as the API takes it; null for an emptied one. Unreadable numbers go as typed, for the API to refuse. */
function wireValue(field: string, value: string | boolean, schema: Record<string, PropertySchema>): unknown {
  const kind = FIELDS[field]!.kind;
  if (kind === 'bool') return value === true;
  const text = String(value).trim();
  if (kind === 'secret') return String(value) === '' ? null : String(value);
  if (text === '') return kind === 'number' && NOT_NULLABLE.has(field) ? (schema[field]?.default ?? null) : null;
  if (kind === 'number') return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  if (kind === 'datetime') {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? text : date.toISOString();
  }
  return text;
}

/**
 * The body to send: for a new profile every field that applies and is filled in; for a change only the fields
 * that apply and were changed (so a port the API derived from a server follows that server when it changes), and
 * a secret only when a new one was typed.
 */
export function bodyOf(values: Values, initial: Values, creating: boolean, schema: Record<string, PropertySchema>): ProfileBody {
  const body: Record<string, unknown> = {};
  const typeChanged = values.serverType !== initial.serverType;
  for (const field of Object.keys(FIELDS)) {
    if (!applies(field, values)) continue;
    const value = values[field]!;
    const kind = FIELDS[field]!.kind;
    if (kind === 'secret') {
      if (value !== '') body[field] = value;
      continue;
    }
    if (creating) {
      const wire = wireValue(field, value, schema);
      if (wire !== null && !(kind === 'number' && String(value).trim() === '')) body[field] = wire;
    } else if (value !== initial[field] || (typeChanged && kind === 'choice')) {
      // A new server type gets the choices shown (credential source, authentication), not the API's defaults.
      body[field] = wireValue(field, value, schema);
    }
  }
  return body as ProfileBody;
}

// ---- the form page ----

export function ProfileFormPage(props: { params: Record<string, string>; query: URLSearchParams }) {
  const id = props.params.id ?? null;
  // A new form (its state from the profile) for each profile: after creating, the page shows the new one.
  return <ProfileEditor key={id ?? 'new'} id={id} />;
}

function ProfileEditor(props: { id: string | null }) {
  const session = useSession();
  const creating = props.id === null;
  const loaded = useLoad(() => (props.id ? get<Profile>(`/email-server-profiles/${props.id}`) : Promise.resolve(null)), [props.id]);
  const users = useLoad(() => get<Page<User>>('/users', { limit: 500 }), []);
  const [schema, setSchema] = useState<Record<string, PropertySchema>>({});
  useEffect(() => void profileSchema().then(setSchema), []);

  if (loaded.loading && !loaded.data) return <Loading what="the profile" />;
  if (loaded.error && !loaded.data) {
    return (
      <section>
        <PageHeader title="Email server profile" />
        <ErrorNotice error={loaded.error} />
        <p>
          <a href="/profiles">Back to the profiles</a>
        </p>
      </section>
    );
  }
  return (
    <ProfileForm
      profile={loaded.data}
      creating={creating}
      users={users.data?.items ?? []}
      usersError={users.error}
      me={session.user.id}
      schema={schema}
      onSaved={(saved) => {
        if (creating) navigate(`/profiles/${saved.id}`);
        else void loaded.reload();
      }}
    />
  );
}

function ProfileForm(props: {
  profile: Profile | null;
  creating: boolean;
  users: User[];
  usersError: ApiError | null;
  me: string;
  schema: Record<string, PropertySchema>;
  onSaved: (profile: Profile) => void;
}) {
  const { profile, schema } = props;
  const initial = useMemo(() => initialValues(profile, props.me), [profile]);
  const [values, setValues] = useState<Values>(initial);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => setValues(initial), [initial]);

  // After a refused save, the first field with a problem gets the focus (its message is read with it).
  useEffect(() => {
    if (error && error.problems.length > 0) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [error]);

  const set = (field: string, value: string | boolean) => {
    setValues((v) => {
      const next = { ...v, [field]: value };
      if (field === 'serverType') {
        // A port the API derived for the old type is derived again for the new one: do not show the old one.
        for (const port of ['incomingPort', 'outgoingPort']) if (v[port] === initial[port]) next[port] = value === initial.serverType ? initial[port]! : '';
      }
      return next;
    });
    setSaved(null);
  };
  const type = values.serverType as ServerType;
  const show = (field: string) => applies(field, values);
  const problem = (field: string) => (show(field) ? (error?.forField(field) ?? null) : null);
  const unshown = error ? error.problems.filter((p) => !p.field || !FIELDS[p.field.split('/')[0]!] || !show(p.field.split('/')[0]!)) : [];

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const body = bodyOf(values, initial, props.creating, schema);
      if (!props.creating && Object.keys(body).length === 0) {
        setSaved('Nothing changed.');
        return;
      }
      const result = props.creating ? await post<Profile>('/email-server-profiles', body) : await patch<Profile>(`/email-server-profiles/${profile!.id}`, body);
      setSaved(props.creating ? `Created the profile "${result.name}".` : `Saved the profile "${result.name}".`);
      props.onSaved(result);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setDeleteError(null);
    try {
      await del(`/email-server-profiles/${profile!.id}`);
      navigate('/profiles');
    } catch (caught) {
      setDeleteError(asApiError(caught));
      setConfirmDelete(false);
    }
  };

  const text = (field: string, label: string, hint?: JSX.Element | string | null, attrs: Record<string, unknown> = {}) =>
    show(field) ? (
      <Field label={label} name={field} hint={hint ?? undefined} error={problem(field)}>
        {(a) => (
          <input
            {...a}
            type="text"
            value={values[field] as string}
            maxLength={schema[field]?.maxLength}
            onInput={(e) => set(field, (e.currentTarget as HTMLInputElement).value)}
            {...attrs}
          />
        )}
      </Field>
    ) : null;
  const number = (field: string, label: string, hint?: string | null) =>
    show(field) ? (
      <Field label={label} name={field} hint={hint ?? undefined} error={problem(field)}>
        {(a) => (
          <input
            {...a}
            type="number"
            inputMode="numeric"
            class="narrow"
            min={schema[field]?.minimum}
            max={schema[field]?.maximum}
            value={values[field] as string}
            onInput={(e) => set(field, (e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
    ) : null;
  const checkbox = (field: string, label: string, hint?: string | null) =>
    show(field) ? (
      <div class="checkbox-field">
        <Field label={label} name={field} hint={hint ?? undefined} error={problem(field)}>
          {(a) => <input {...a} type="checkbox" checked={values[field] === true} onChange={(e) => set(field, (e.currentTarget as HTMLInputElement).checked)} />}
        </Field>
      </div>
    ) : null;
  const secret = (field: string, label: string, isSet: boolean, what: string) =>
    show(field) ? (
      <Field
        label={isSet ? `${label} (set)` : label}
        name={field}
        hint={isSet ? `A ${what} is set; it is never shown. Type a new one to replace it, or leave this empty to keep it.` : `Write-only: stored encrypted, never shown again.`}
        error={problem(field)}
      >
        {(a) => (
          <input
            {...a}
            type="password"
            autoComplete="new-password"
            placeholder={isSet ? 'unchanged' : ''}
            value={values[field] as string}
            onInput={(e) => set(field, (e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
    ) : null;

  const portHint = (direction: 'incoming' | 'outgoing'): string => {
    const range = schema.incomingPort?.minimum !== undefined ? ` From ${schema.incomingPort.minimum} to ${schema.incomingPort.maximum}.` : '';
    if (type === 'exchange' || type === 'exchange-online') return `Empty: the URL's port (443 for https).${range}`;
    if (direction === 'outgoing') return `Empty: the scheme's port (smtps:// 465, smtp:// 587), else 587.${range}`;
    return type === 'imap-smtp' ? `Empty: the scheme's port (imaps:// 993, imap:// 143), else 993.${range}` : `Empty: the scheme's port (pop3s:// 995, pop3:// 110), else 995.${range}`;
  };

  const incoming = {
    exchange: {
      label: 'EWS URL',
      hint:
        values.autodiscover === true
          ? "Not used while Autodiscover is on: Liaison finds each mailbox's EWS URL. You may keep one here for when Autodiscover is off, but it must still start with https:// (Exchange needs SSL): an http:// URL is refused and the profile is not saved."
          : 'Required while Autodiscover is off, e.g. https://mail.contoso.com/EWS/Exchange.asmx. It must start with https:// (Exchange needs SSL): an http:// URL is refused and the profile is not saved.',
    },
    'exchange-online': { label: 'Microsoft Graph URL', hint: 'Empty: https://graph.microsoft.com (the global endpoint). https:// only.' },
    'imap-smtp': { label: 'IMAP server', hint: 'Required: host, host:port, imaps://host (TLS) or imap://host (STARTTLS).' },
    'pop3-smtp': { label: 'POP3 server', hint: 'Required: host, host:port, pop3s://host (TLS) or pop3://host (STARTTLS).' },
  }[type];
  const outgoing = {
    exchange: { label: 'Outgoing EWS URL', hint: 'Empty: the EWS URL above (EWS sends through the endpoint it reads from). https:// only.' },
    'exchange-online': { label: 'Outgoing Microsoft Graph URL', hint: 'Empty: the Graph URL above. https:// only.' },
    'imap-smtp': { label: 'SMTP server', hint: 'Required: host, host:port, smtps://host (TLS) or smtp://host (STARTTLS).' },
    'pop3-smtp': { label: 'SMTP server', hint: 'Required: host, host:port, smtps://host (TLS) or smtp://host (STARTTLS).' },
  }[type];

  const title = props.creating ? 'New email server profile' : (profile?.name ?? 'Email server profile');
  return (
    <section class="profile-form">
      <PageHeader title={title} subtitle={<a href="/profiles">All email server profiles</a>}>
        {!props.creating && !confirmDelete ? (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        ) : null}
      </PageHeader>
      {confirmDelete ? (
        <div class="notice warning confirm" role="alertdialog" aria-labelledby="confirm-delete-text">
          <p id="confirm-delete-text">Delete the profile "{profile?.name}"? Mailboxes that use it must be moved to another profile first.</p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => void remove()}>
              Yes, delete it
            </button>
            <button type="button" class="secondary" onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      <ErrorNotice error={deleteError} />
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      {error ? (
        <div class="notice error" role="alert">
          <strong>{props.creating ? 'The profile was not created. ' : 'The changes were not saved. '}</strong>
          {error.problems.length > 0 ? `${error.problems.length === 1 ? 'One field needs' : `${error.problems.length} fields need`} attention; each problem is shown next to its field.` : error.message}
          {unshown.length > 0 ? (
            <ul>
              {unshown.map((p) => (
                <li key={p.field + p.message}>
                  {p.field ? <code>{p.field}</code> : null} {p.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}

      <form ref={formRef} noValidate onSubmit={(e) => void submit(e)} aria-label={title}>
        <fieldset>
          <legend>General</legend>
          {text('name', 'Name', schema.name?.maxLength ? `Required; at most ${schema.name.maxLength} characters.` : 'Required.', { required: true })}
          <Field label="Description" name="description" error={problem('description')}>
            {(a) => <textarea {...a} rows={2} maxLength={schema.description?.maxLength} value={values.description as string} onInput={(e) => set('description', (e.currentTarget as HTMLTextAreaElement).value)} />}
          </Field>
          <Field
            label="Server type"
            name="serverType"
            error={problem('serverType')}
            hint={!props.creating && profile && type !== profile.serverType ? 'Saving changes the server type: settings the new type does not use are removed.' : undefined}
          >
            {(a) => (
              <select {...a} value={type} onChange={(e) => set('serverType', (e.currentTarget as HTMLSelectElement).value)}>
                {SERVER_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {SERVER_TYPE_LABELS[t]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {checkbox('autodiscover', 'Use Autodiscover', "Find each mailbox's EWS URL by Autodiscover from its address. Off: every mailbox uses the EWS URL below.")}
          {show('authentication') ? (
            <Field label="Authentication" name="authentication" error={problem('authentication')} hint="How the service account signs in. Basic sends the credentials over TLS; NTLM (NTLMv2 with channel binding) is for Exchange with Basic off or Extended Protection on.">
              {(a) => (
                <select {...a} value={values.authentication as string} onChange={(e) => set('authentication', (e.currentTarget as HTMLSelectElement).value)}>
                  <option value="basic">Basic</option>
                  <option value="ntlm">NTLM</option>
                </select>
              )}
            </Field>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Server location</legend>
          <div class="pair">
            {text('incomingServer', incoming.label, incoming.hint, { inputMode: 'url', autoComplete: 'off', spellcheck: false })}
            {number('incomingPort', type === 'exchange' || type === 'exchange-online' ? 'Incoming port' : `${incoming.label} port`, portHint('incoming'))}
          </div>
          <div class="pair">
            {text('outgoingServer', outgoing.label, outgoing.hint, { inputMode: 'url', autoComplete: 'off', spellcheck: false })}
            {number('outgoingPort', type === 'exchange' || type === 'exchange-online' ? 'Outgoing port' : 'SMTP server port', portHint('outgoing'))}
          </div>
          {checkbox('useSameSettingsForOutgoing', 'Use the same settings for outgoing email', 'Send with the incoming credentials. Off: give the outgoing user name and password under Credentials.')}
        </fieldset>

        <fieldset>
          <legend>Credentials</legend>
          {show('credentialSource') ? (
            <Field label="Credential source" name="credentialSource" error={problem('credentialSource')} hint="IMAP and POP3 have no impersonation: either one master user logs in for every mailbox (Dovecot: mailbox*master), or each mailbox holds its own login (set on the mailbox).">
              {(a) => (
                <select {...a} value={values.credentialSource as string} onChange={(e) => set('credentialSource', (e.currentTarget as HTMLSelectElement).value)}>
                  <option value="profile">The profile's master user</option>
                  <option value="mailbox">Each mailbox's own login</option>
                </select>
              )}
            </Field>
          ) : null}
          {text(
            'username',
            type === 'exchange' ? 'Username (service account)' : 'Master user',
            type === 'exchange' ? 'The service account that holds the ApplicationImpersonation role: svc-crm@contoso.com or DOMAIN\\user.' : 'The master user that may log in for every mailbox.',
            { autoComplete: 'off', spellcheck: false },
          )}
          {secret('password', 'Password', profile?.passwordSet ?? false, 'password')}
          {text('masterUserSeparator', 'Master user separator', "Dovecot's auth_master_user_separator: the login is mailbox<separator>master. Empty: *.", { class: 'narrow' })}
          {text('outgoingUsername', 'Outgoing username', 'Used to send when the outgoing settings differ.', { autoComplete: 'off', spellcheck: false })}
          {secret('outgoingPassword', 'Outgoing password', profile?.outgoingPasswordSet ?? false, 'password')}
          {text('tenantId', 'Tenant ID', 'The directory (tenant) ID of the app registration: a GUID or contoso.onmicrosoft.com.', { autoComplete: 'off', spellcheck: false })}
          {text('clientId', 'Client ID', 'The application (client) ID of the app registration, a GUID.', { autoComplete: 'off', spellcheck: false })}
          {secret('clientSecret', 'Client secret', profile?.clientSecretSet ?? false, 'client secret')}
          {show('clientCertificate') ? (
            <Field
              label={profile?.clientCertificateSet ? 'Client certificate (PEM) (set)' : 'Client certificate (PEM)'}
              name="clientCertificate"
              error={problem('clientCertificate')}
              hint={
                profile?.clientCertificateSet
                  ? 'A client certificate is set; it is never shown. Paste a new one (certificate and private key) to replace it, or leave this empty to keep it.'
                  : "Instead of (or besides) a client secret: the app registration's certificate and its unencrypted RSA private key in one PEM text (openssl pkcs12 -in app.pfx -nodes). Checked on save; write-only, stored encrypted, never shown again."
              }
            >
              {(a) => (
                <textarea
                  {...a}
                  class="mono"
                  rows={4}
                  spellcheck={false}
                  autoComplete="off"
                  placeholder={profile?.clientCertificateSet ? 'unchanged' : '-----BEGIN CERTIFICATE----- … -----BEGIN PRIVATE KEY----- …'}
                  value={values.clientCertificate as string}
                  onInput={(e) => set('clientCertificate', (e.currentTarget as HTMLTextAreaElement).value)}
                />
              )}
            </Field>
          ) : null}
          {text(
            'authority',
            'Authority',
            'Where tokens are requested: an https URL with the tenant, e.g. https://login.microsoftonline.us/<tenant ID> for a national cloud. Empty: https://login.microsoftonline.com/<tenant ID>.',
            { inputMode: 'url', autoComplete: 'off', spellcheck: false },
          )}
          <Field label="Trusted CA certificates (PEM)" name="trustedCaPem" error={problem('trustedCaPem')} hint="Extra certificate authorities to trust for this server, e.g. a corporate PKI: one or more -----BEGIN CERTIFICATE----- blocks. Empty: the system's.">
            {(a) => <textarea {...a} class="mono" rows={4} spellcheck={false} value={values.trustedCaPem as string} onInput={(e) => set('trustedCaPem', (e.currentTarget as HTMLTextAreaElement).value)} />}
          </Field>
        </fieldset>

        <fieldset>
          <legend>Advanced</legend>
          <Field label="Process Email From" name="processEmailFrom" error={problem('processEmailFrom')} hint="Only email received after this moment (your time zone) is processed. Empty: all.">
            {(a) => <input {...a} type="datetime-local" value={values.processEmailFrom as string} onInput={(e) => set('processEmailFrom', (e.currentTarget as HTMLInputElement).value)} />}
          </Field>
          {number('minPollingIntervalMinutes', 'Minimum Polling Interval (minutes)', rangeHint(schema, 'minPollingIntervalMinutes', ' minutes'))}
          {number('maxConcurrentConnections', 'Maximum Concurrent Connections', rangeHint(schema, 'maxConcurrentConnections'))}
          {number('requestTimeoutSeconds', 'Request timeout (seconds)', rangeHint(schema, 'requestTimeoutSeconds', ' s') ?? 'How long one call to the mail server may take, connecting included.')}
          {checkbox('moveFailedToUndeliverable', 'Move Failed Emails to Undeliverable Folder', 'An email that cannot be tracked is moved to Inbox/Undeliverable.')}
          {checkbox('notifyOwnerOnFailure', 'Email Notifications', 'Email the owner when more than half of the mailboxes failed in the last hour.')}
          {checkbox('deleteAfterTracking', 'Delete email from the server after tracking', 'POP3: delete each message once its outcome is recorded. Off: mail stays on the server.')}
          {checkbox('serverSavesSentCopy', 'The SMTP server saves sent email', 'The server puts sent mail in Sent itself, so Liaison does not append a copy.')}
          <Field label="Owner" name="ownerId" error={problem('ownerId') ?? props.usersError?.message ?? null} hint="Receives the profile's alerts and notifications.">
            {(a) => (
              <select {...a} value={values.ownerId as string} onChange={(e) => set('ownerId', (e.currentTarget as HTMLSelectElement).value)}>
                {props.users.length === 0 ? <option value={values.ownerId as string}>{values.ownerId === props.me ? 'You' : String(values.ownerId)}</option> : null}
                {props.users.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name} ({u.email})
                  </option>
                ))}
              </select>
            )}
          </Field>
        </fieldset>
        <div class="actions form-actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : props.creating ? 'Create profile' : 'Save changes'}
          </button>
          <a class="button secondary" href="/profiles">
            Cancel
          </a>
        </div>
      </form>

      {profile ? (
        <TestConnectionPanel profile={profile} owner={props.users.find((u) => u.id === profile.ownerId) ?? null} dirty={bodyHasChanges(values, initial)} />
      ) : (
        <section aria-labelledby="test-heading">
          <h2 id="test-heading">Test Connection</h2>
          <p class="muted">Create the profile first; Test Connection then runs from its page.</p>
        </section>
      )}
    </section>
  );
}

function bodyHasChanges(values: Values, initial: Values): boolean {
  return Object.keys(FIELDS).some((field) => applies(field, values) && values[field] !== initial[field]);
}
