/**
 * The API's schemas. Each one validates requests, types the handlers and writes the OpenAPI document; the
 * limits come from the domain modules so the API, the CLI and the store enforce the same numbers.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  ACTIVITY_LIMITS,
  ACTIVITY_STATUSES,
  ATTACHMENT_POLICY,
  base64Length,
  DIRECTIONS,
  EMAIL_ENABLED_TYPES,
  REGARDING_TYPES,
} from '../domain/activity.js';
import { ALERT_LEVELS, ALERT_SCOPES } from '../domain/alert.js';
import { APPROVAL_STATUSES, SYNC_METHODS, SYNC_STATUSES } from '../domain/mailbox.js';
import { AUTHENTICATION_METHODS, CREDENTIAL_SOURCES, PROFILE_LIMITS, SERVER_TYPES } from '../domain/profile.js';
import { STEP_TITLES } from '../diagnostics/types.js';
import { PAGE_LIMIT } from '../store/common.js';
import { ORGANIZATION_LIMITS } from '../store/organization.js';
import { PASSWORD_LIMITS } from '../store/passwords.js';
import { MAX_RECORD_ADDRESSES } from '../store/records.js';
import { DEFAULT_INCOMING_FILTER, INCOMING_FILTER_OPTIONS } from '../store/users.js';

/** A string restricted to a list of values (plain JSON Schema enum, readable errors). */
export function StringEnum<T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A value that may also be null (OpenAPI 3.1 style: a type list, so errors stay short). */
export function Nullable<T extends TSchema>(schema: T) {
  const type = (schema as { type?: string }).type;
  const copy: Record<string, unknown> = { ...schema, type: [type, 'null'] };
  if (Array.isArray(copy.enum)) copy.enum = [...(copy.enum as unknown[]), null];
  return Type.Unsafe<Static<T> | null>(copy);
}

export const Id = Type.String({ format: 'uuid', description: 'Record id (UUID)' });
export const DateTime = Type.String({ format: 'date-time' });
export const Email = Type.String({ minLength: 3, maxLength: 320, description: 'Email address (name@domain)' });

export const IdParams = Type.Object({ id: Id });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT.max, default: PAGE_LIMIT.default })),
  after: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Nullable(Type.String({ description: 'Pass as `after` for the next page; null on the last page' })),
  });
}

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    problems: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { title: 'Error' },
);

/** The error answers every route can give besides its own. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
};

// ---- users and queues ----

const incomingFilterDescription =
  'Which incoming email of the mailbox is tracked: all; responses-to-crm-email (replies to email sent from the CRM); ' +
  'from-crm-records (from a contact, account or lead); from-email-enabled-records (from any record with an address, users and queues too); none';
const IncomingFilter = (defaultFor: 'user' | 'queue') =>
  StringEnum(INCOMING_FILTER_OPTIONS, { description: `${incomingFilterDescription}. Default for a ${defaultFor}: ${DEFAULT_INCOMING_FILTER[defaultFor]}` });

export const User = Type.Object({
  id: Id,
  name: Type.String(),
  email: Type.String(),
  isAdmin: Type.Boolean(),
  incomingFilter: IncomingFilter('user'),
  mailboxId: Nullable(Id),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const UserCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), email: Email, isAdmin: Type.Optional(Type.Boolean()), incomingFilter: Type.Optional(IncomingFilter('user')) },
  { additionalProperties: false },
);
export const UserUpdate = Type.Partial(UserCreate, { additionalProperties: false });

export const Token = Type.Object({
  id: Id,
  token: Type.String({ description: 'Shown once; only its hash is stored' }),
});
export const TokenCreate = Type.Object({ label: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
/** A token as a list shows it: never the token or its hash. */
export const TokenInfo = Type.Object({
  id: Id,
  userId: Id,
  label: Nullable(Type.String()),
  prefix: Nullable(Type.String({ description: 'The first characters of the token (lsn_ and four more), to tell tokens apart; null for tokens issued before Liaison kept them' })),
  createdAt: DateTime,
  lastUsedAt: Nullable(Type.String({ format: 'date-time', description: 'Recorded at most once a minute' })),
});

export const Queue = Type.Object({
  id: Id,
  name: Type.String(),
  email: Type.String(),
  ownerId: Id,
  incomingFilter: IncomingFilter('queue'),
  mailboxId: Nullable(Id),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export const QueueCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Email,
    ownerId: Type.Optional(Id),
    incomingFilter: Type.Optional(IncomingFilter('queue')),
  },
  { additionalProperties: false },
);
export const QueueUpdate = Type.Partial(QueueCreate, { additionalProperties: false });

// ---- contacts, accounts, leads ----

export const CrmRecord = Type.Object({
  id: Id,
  name: Type.String(),
  emailAddresses: Type.Array(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export const CrmRecordCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    emailAddresses: Type.Optional(Type.Array(Email, { maxItems: MAX_RECORD_ADDRESSES })),
  },
  { additionalProperties: false },
);
export const CrmRecordUpdate = Type.Partial(CrmRecordCreate, { additionalProperties: false });

// ---- diagnostics: Test Connection, Test & Enable ----

const STEP_NAMES = Object.keys(STEP_TITLES) as Array<keyof typeof STEP_TITLES>;

export const ServerAnswer = Type.Object(
  {
    httpStatus: Type.Optional(Type.Integer()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'The headers that explain the answer (WWW-Authenticate, Retry-After, …); names lower-cased' })),
    responseCode: Type.Optional(Type.String({ description: 'The EWS ResponseCode or SOAP fault code' })),
    messageText: Type.Optional(Type.String({ description: "The server's message text" })),
    excerpt: Type.Optional(Type.String({ description: 'The start of the answer body, when it helps (an HTML error page, an Autodiscover error)' })),
  },
  { title: 'ServerAnswer' },
);

export const StepResult = Type.Object(
  {
    step: StringEnum(STEP_NAMES),
    title: Type.String({ description: 'Exchange: Autodiscover / HTTPS connection, EWS connection, Mailbox connection; Exchange Online: Token from the identity platform, Microsoft Graph and permissions, Mailbox connection; IMAP/POP3/SMTP: the protocol, then Server connection (DNS, TCP, TLS), Protocol and login, Mailbox connection' }),
    status: StringEnum(['success', 'failure', 'skipped'] as const),
    elapsedMs: Type.Number(),
    summary: Type.String({ description: 'One line: what happened' }),
    request: Type.Optional(
      Type.Object(
        { method: Type.String(), url: Type.String() },
        { description: 'The request made, when the step made one: HTTP method and URL; for IMAP/POP3/SMTP the command the server answered (passwords hidden) and the server (imaps://host:993)' },
      ),
    ),
    serverAnswer: Type.Optional(ServerAnswer),
    fix: Type.Optional(Type.String({ description: 'The likely fix, when the step failed' })),
    details: Type.Optional(Type.Array(Type.String(), { description: 'Every Autodiscover URL tried and what it answered, certificate names, …' })),
    code: Type.Optional(Type.String({ description: 'A stable code for the diagnosis (basic-auth-disabled, impersonation-denied, tls-name-mismatch, bad-credentials, starttls-missing, …)' })),
    protocol: Type.Optional(StringEnum(['imap', 'pop3', 'smtp'] as const, { description: "IMAP/POP3/SMTP profiles: the server's protocol; the incoming server's three steps come first, then the outgoing (SMTP) server's" })),
  },
  { title: 'StepResult' },
);

export const ConnectionTestResult = Type.Object(
  {
    status: StringEnum(['success', 'failure'] as const),
    startedAt: DateTime,
    elapsedMs: Type.Number({ description: 'Total elapsed milliseconds' }),
    mailbox: Type.String({ description: 'The mailbox address tested in step 3' }),
    ewsUrl: Type.Optional(Type.String({ description: 'The EWS URL used (found by Autodiscover or configured), when known' })),
    steps: Type.Array(StepResult),
  },
  { title: 'ConnectionTestResult' },
);

export const TestConnectionRequest = Type.Object(
  {
    mailbox: Type.Optional(
      Type.Intersect([Email], { description: "The mailbox to open in step 3; defaults to the address of the profile's owner" }),
    ),
  },
  { additionalProperties: false },
);

// ---- email server profiles ----

const port = Type.Integer({ minimum: PROFILE_LIMITS.port.min, maximum: PROFILE_LIMITS.port.max });
const writeOnlySecret = (description: string) => Nullable(Type.String({ maxLength: 4096, writeOnly: true, description }));

const profileFields = {
  name: Type.String({ minLength: 1, maxLength: PROFILE_LIMITS.nameMaxLength }),
  description: Type.Optional(Nullable(Type.String({ maxLength: PROFILE_LIMITS.descriptionMaxLength }))),
  serverType: StringEnum(SERVER_TYPES),
  autodiscover: Type.Optional(Type.Boolean({ description: 'Exchange only: find each mailbox’s EWS URL by Autodiscover (default true)' })),
  authentication: Type.Optional(
    StringEnum(AUTHENTICATION_METHODS, {
      description:
        'Exchange only: how the service account signs in. basic (the default) sends the credentials over TLS; ntlm is NTLMv2 with channel binding, for Exchange with Basic off or Extended Protection on',
    }),
  ),
  incomingServer: Type.Optional(
    Nullable(
      Type.String({
        maxLength: PROFILE_LIMITS.serverMaxLength,
        description: 'EWS or Graph: an https URL. IMAP/POP3: host, host:port or imaps://, imap://, pop3s://, pop3:// host',
      }),
    ),
  ),
  incomingPort: Type.Optional(Nullable(port)),
  outgoingServer: Type.Optional(
    Nullable(Type.String({ maxLength: PROFILE_LIMITS.serverMaxLength, description: 'EWS or Graph: an https URL. SMTP: host, host:port or smtps://, smtp:// host' })),
  ),
  outgoingPort: Type.Optional(Nullable(port)),
  useSameSettingsForOutgoing: Type.Optional(Type.Boolean({ description: 'Send with the incoming credentials (default true)' })),
  username: Type.Optional(Nullable(Type.String({ maxLength: PROFILE_LIMITS.usernameMaxLength }))),
  password: Type.Optional(writeOnlySecret('Write-only; null clears it')),
  outgoingUsername: Type.Optional(Nullable(Type.String({ maxLength: PROFILE_LIMITS.usernameMaxLength }))),
  outgoingPassword: Type.Optional(writeOnlySecret('Write-only; only when useSameSettingsForOutgoing is false')),
  tenantId: Type.Optional(Nullable(Type.String({ maxLength: 253 }))),
  clientId: Type.Optional(Nullable(Type.String({ maxLength: 36 }))),
  clientSecret: Type.Optional(
    writeOnlySecret('Write-only; Exchange Online: a client secret of the app registration (this, or clientCertificate, or both)'),
  ),
  clientCertificate: Type.Optional(
    Nullable(
      Type.String({
        maxLength: 65536,
        writeOnly: true,
        description:
          'Write-only; Exchange Online: the app registration\'s certificate and its unencrypted RSA private key in one PEM text (openssl pkcs12 -in app.pfx -nodes); ' +
          'checked on save (readable, the key the certificate\'s, not expired), stored encrypted; null clears it. Instead of, or besides, clientSecret',
      }),
    ),
  ),
  authority: Type.Optional(
    Nullable(
      Type.String({
        maxLength: PROFILE_LIMITS.serverMaxLength,
        description:
          'Exchange Online: the Microsoft identity platform authority to request tokens from, an https URL naming the tenant (no query or fragment), ' +
          'e.g. https://login.microsoftonline.us/<tenantId> for a national cloud; null: https://login.microsoftonline.com/<tenantId>',
      }),
    ),
  ),
  trustedCaPem: Type.Optional(Nullable(Type.String({ maxLength: 65536, description: 'Extra CA certificates (PEM) to trust, e.g. a corporate PKI' }))),
  processEmailFrom: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'Only email received after this moment is processed' }))),
  minPollingIntervalMinutes: Type.Optional(
    Type.Integer({ minimum: PROFILE_LIMITS.minPollingIntervalMinutes.min, maximum: PROFILE_LIMITS.minPollingIntervalMinutes.max, default: PROFILE_LIMITS.minPollingIntervalMinutes.default }),
  ),
  maxConcurrentConnections: Type.Optional(
    Type.Integer({ minimum: PROFILE_LIMITS.maxConcurrentConnections.min, maximum: PROFILE_LIMITS.maxConcurrentConnections.max, default: PROFILE_LIMITS.maxConcurrentConnections.default }),
  ),
  requestTimeoutSeconds: Type.Optional(
    Type.Integer({
      minimum: PROFILE_LIMITS.requestTimeoutSeconds.min,
      maximum: PROFILE_LIMITS.requestTimeoutSeconds.max,
      default: PROFILE_LIMITS.requestTimeoutSeconds.default,
      description: 'How long one call to the mail server may take, connecting included, in seconds (every server type)',
    }),
  ),
  moveFailedToUndeliverable: Type.Optional(Type.Boolean({ default: false })),
  notifyOwnerOnFailure: Type.Optional(Type.Boolean({ default: false, description: 'Email the owner when more than half of the mailboxes failed in the last hour' })),
  ownerId: Type.Optional(Type.Intersect([Id], { description: 'Defaults to the caller' })),
  credentialSource: Type.Optional(
    Nullable(StringEnum(CREDENTIAL_SOURCES, { description: 'IMAP/POP3: profile (username is a master user that logs in for every mailbox as mailbox<separator>master, e.g. Dovecot master users) or mailbox (each mailbox holds its own login); default: profile when a username is given, else mailbox' })),
  ),
  masterUserSeparator: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 4, description: "IMAP/POP3 with credentialSource profile: Dovecot's auth_master_user_separator; default *" }))),
  deleteAfterTracking: Type.Optional(Type.Boolean({ default: false, description: 'POP3: delete each message from the server once it is recorded (default: leave mail on the server)' })),
  serverSavesSentCopy: Type.Optional(Type.Boolean({ default: false, description: 'IMAP/SMTP: the SMTP server saves sent mail in the Sent folder itself, so Liaison does not append a copy' })),
};

export const ProfileCreate = Type.Object(profileFields, { additionalProperties: false });
export const ProfileUpdate = Type.Partial(ProfileCreate, { additionalProperties: false });

export const Profile = Type.Object({
  id: Id,
  name: Type.String(),
  description: Nullable(Type.String()),
  serverType: StringEnum(SERVER_TYPES),
  autodiscover: Type.Boolean(),
  authentication: Nullable(StringEnum(AUTHENTICATION_METHODS, { description: 'basic or ntlm for Exchange profiles; null for the other types' })),
  incomingServer: Nullable(Type.String()),
  incomingPort: Nullable(Type.Integer()),
  outgoingServer: Nullable(Type.String()),
  outgoingPort: Nullable(Type.Integer()),
  useSameSettingsForOutgoing: Type.Boolean(),
  username: Nullable(Type.String()),
  passwordSet: Type.Boolean(),
  outgoingUsername: Nullable(Type.String()),
  outgoingPasswordSet: Type.Boolean(),
  tenantId: Nullable(Type.String()),
  clientId: Nullable(Type.String()),
  clientSecretSet: Type.Boolean(),
  clientCertificateSet: Type.Boolean({ description: 'Exchange Online: a client certificate is stored (the PEM is never returned)' }),
  authority: Nullable(Type.String({ description: 'Exchange Online: the sign-in authority; null: https://login.microsoftonline.com/<tenantId>' })),
  trustedCaPem: Nullable(Type.String()),
  processEmailFrom: Nullable(DateTime),
  minPollingIntervalMinutes: Type.Integer(),
  maxConcurrentConnections: Type.Integer(),
  requestTimeoutSeconds: Type.Integer(),
  moveFailedToUndeliverable: Type.Boolean(),
  notifyOwnerOnFailure: Type.Boolean(),
  ownerId: Id,
  credentialSource: Nullable(StringEnum(CREDENTIAL_SOURCES)),
  masterUserSeparator: Nullable(Type.String()),
  deleteAfterTracking: Type.Boolean(),
  serverSavesSentCopy: Type.Boolean(),
  lastTestResult: Nullable(ConnectionTestResult),
  createdAt: DateTime,
  updatedAt: DateTime,
});

// ---- mailboxes ----

export const Alert = Type.Object({
  id: Id,
  level: StringEnum(ALERT_LEVELS),
  scope: StringEnum(ALERT_SCOPES),
  profileId: Nullable(Id),
  mailboxId: Nullable(Id),
  activityId: Nullable(Id),
  code: Type.String(),
  message: Type.String(),
  serverResponse: Nullable(Type.String()),
  fix: Nullable(Type.String()),
  createdAt: DateTime,
});

export const Mailbox = Type.Object({
  id: Id,
  name: Type.String(),
  emailAddress: Type.String(),
  type: StringEnum(['user', 'queue'] as const),
  userId: Nullable(Id),
  queueId: Nullable(Id),
  ownerId: Id,
  profileId: Nullable(Id),
  approvalStatus: StringEnum(APPROVAL_STATUSES),
  incomingMethod: StringEnum(SYNC_METHODS),
  outgoingMethod: StringEnum(SYNC_METHODS),
  incomingStatus: StringEnum(SYNC_STATUSES),
  outgoingStatus: StringEnum(SYNC_STATUSES),
  enabled: Type.Boolean(),
  processEmailFrom: Nullable(DateTime),
  lastSyncAt: Nullable(DateTime),
  lastTestAt: Nullable(DateTime),
  ewsUrl: Nullable(Type.String({ description: 'The EWS URL Autodiscover found for the mailbox; null until found' })),
  ewsUrlFoundAt: Nullable(DateTime),
  lastSuccessAt: Nullable(Type.String({ format: 'date-time', description: 'When a sync cycle last succeeded; null until one did' })),
  consecutiveFailures: Type.Integer({ minimum: 0, description: 'Failed sync cycles in a row; a success (or a passing Test & Enable) resets it' }),
  nextDueAt: Nullable(Type.String({ format: 'date-time', description: 'When the next sync cycle is due; null: as soon as a worker is free' })),
  lastError: Nullable(Type.String({ description: "The last sync cycle's error; null when it succeeded" })),
  loginUsername: Nullable(Type.String({ description: "IMAP/POP3 profiles whose credentialSource is mailbox: the mailbox's own login" })),
  loginPasswordSet: Type.Boolean({ description: "Whether the mailbox's own password is stored (it is write-only)" }),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const MailboxLoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: PROFILE_LIMITS.usernameMaxLength, description: 'The login of this mailbox on the IMAP/POP3 (and SMTP) server' }),
    password: Type.String({ minLength: 1, maxLength: 1024, writeOnly: true, description: 'Write-only; stored encrypted' }),
  },
  { additionalProperties: false },
);

/** What a mailbox's reader (its owner too, who may not read profiles) needs to know of its profile. */
export const MailboxProfileSummary = Type.Object(
  {
    id: Id,
    name: Type.String(),
    serverType: StringEnum(SERVER_TYPES),
    credentialSource: Nullable(StringEnum(CREDENTIAL_SOURCES)),
  },
  { description: "The mailbox's email server profile in brief; credentialSource mailbox: the mailbox's own login (PUT /mailboxes/{id}/login) is used" },
);

// ---- the missing-mail audit ----

export const AuditMissingMessage = Type.Object(
  {
    serverId: Type.String({ description: "The server's id of the message (EWS ItemId, IMAP UID, POP3 UIDL)" }),
    internetMessageId: Nullable(Type.String()),
    receivedAt: Nullable(Type.String({ format: 'date-time' })),
    subject: Nullable(Type.String()),
    from: Nullable(Type.String()),
  },
  { title: 'AuditMissingMessage' },
);

export const AuditRun = Type.Object(
  {
    id: Id,
    mailboxId: Id,
    trigger: StringEnum(['scheduled', 'on-demand'] as const),
    status: StringEnum(['completed', 'failed'] as const, { description: 'failed: the audit itself could not finish (see error)' }),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.String({ format: 'date-time' }),
    onServer: Type.Integer({ description: 'Messages in the synchronized folders since Process Email From: tracked + filtered + failed + missing' }),
    tracked: Type.Integer(),
    filtered: Type.Integer(),
    filteredByRule: Type.Record(Type.String(), Type.Integer(), { description: 'Filtered messages per filter rule' }),
    failed: Type.Integer({ description: 'Failed, retried or set aside (undeliverable)' }),
    outOfScope: Type.Integer({ description: 'Received before Process Email From: not counted elsewhere' }),
    missing: Type.Integer({ description: 'Messages with no outcome in Liaison (all of them; missingMessages names the first 100)' }),
    missingMessages: Type.Array(AuditMissingMessage, { description: 'Oldest first; queued for the next synchronization' }),
    gapBeganAt: Nullable(Type.String({ format: 'date-time', description: 'When the oldest missing message was received' })),
    error: Nullable(Type.String()),
  },
  { title: 'AuditRun' },
);

export const AuditRequestQuery = Type.Object(
  { wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, default: 60, description: 'Seconds to wait for the audit (0: just queue it)' })) },
  { additionalProperties: false },
);

export const AuditAnswer = Type.Object(
  {
    status: StringEnum(['completed', 'failed', 'queued'] as const, { description: 'queued: no worker ran it within the wait; it runs at its next cycle' }),
    requestedAt: Type.String({ format: 'date-time' }),
    audit: Nullable(AuditRun),
  },
  { title: 'AuditAnswer' },
);

export const AuditList = Type.Object({ items: Type.Array(AuditRun, { description: 'Newest first' }) });
export const AuditListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) },
  { additionalProperties: false },
);

export const MailboxDetail = Type.Composite([
  Mailbox,
  Type.Object({
    recentAlerts: Type.Array(Alert, { description: 'Newest first' }),
    profile: Nullable(MailboxProfileSummary),
    /** The mailbox's latest missing-mail audit; null: never audited. */
    lastAudit: Nullable(AuditRun),
  }),
]);

export const MailboxUpdate = Type.Object(
  {
    profileId: Type.Optional(Nullable(Id)),
    approvalStatus: Type.Optional(StringEnum(APPROVAL_STATUSES)),
    enabled: Type.Optional(Type.Boolean()),
    incomingMethod: Type.Optional(StringEnum(SYNC_METHODS)),
    outgoingMethod: Type.Optional(StringEnum(SYNC_METHODS)),
    processEmailFrom: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  },
  { additionalProperties: false },
);

export const MailboxIds = Type.Array(Id, { minItems: 1, maxItems: 1000, uniqueItems: true });

export const MailboxAssociate = Type.Object(
  { mailboxIds: MailboxIds, profileId: Nullable(Id) },
  { additionalProperties: false },
);

export const MailboxApproval = Type.Object(
  { mailboxIds: MailboxIds, approvalStatus: StringEnum(APPROVAL_STATUSES) },
  { additionalProperties: false },
);

export const TestAndEnableRequest = Type.Object(
  { ids: Type.Array(Id, { minItems: 1, maxItems: 1000, uniqueItems: true, description: 'The mailboxes to test and enable' }) },
  { additionalProperties: false },
);

const outcomeBase = {
  mailboxId: Id,
  emailAddress: Type.String(),
  mailbox: Mailbox,
};

export const TestAndEnableOutcome = Type.Union(
  [
    Type.Object({
      ...outcomeBase,
      outcome: Type.Literal('enabled'),
      result: ConnectionTestResult,
      alertId: Id,
    }),
    Type.Object({
      ...outcomeBase,
      outcome: Type.Literal('failed'),
      result: Nullable(ConnectionTestResult),
      error: Nullable(Type.String({ description: 'Set when the test could not finish (a fault in Liaison), instead of a result' })),
      alertId: Type.Intersect([Id], { description: 'The error alert raised on the mailbox' }),
    }),
    Type.Object({
      ...outcomeBase,
      outcome: Type.Literal('refused'),
      problems: Type.Array(Type.String(), { description: 'Why it was not tested (or, when it changed while tested, not enabled), each with what to do' }),
      result: Nullable(ConnectionTestResult),
    }),
  ],
  { title: 'TestAndEnableOutcome' },
);

export const TestAndEnableResults = Type.Object({
  items: Type.Array(TestAndEnableOutcome),
  summary: Type.Object({ enabled: Type.Integer(), failed: Type.Integer(), refused: Type.Integer() }),
});

export const MailboxQuery = Type.Object(
  {
    ...PageQuery,
    profileId: Type.Optional(Type.String({ description: 'A profile id, or "none"' })),
    ownerId: Type.Optional(Id),
    type: Type.Optional(StringEnum(['user', 'queue'] as const)),
    approvalStatus: Type.Optional(StringEnum(APPROVAL_STATUSES)),
    enabled: Type.Optional(Type.Boolean()),
    incomingStatus: Type.Optional(StringEnum(SYNC_STATUSES)),
    outgoingStatus: Type.Optional(StringEnum(SYNC_STATUSES)),
    status: Type.Optional(StringEnum(SYNC_STATUSES, { description: 'Either direction has this status' })),
  },
  { additionalProperties: false },
);

// ---- email activities ----

export const RecordRef = Type.Object({ type: StringEnum(EMAIL_ENABLED_TYPES), id: Id });
export const Party = Type.Object({ address: Type.String(), displayName: Nullable(Type.String()), record: Nullable(RecordRef) });
export const Regarding = Type.Object({ type: StringEnum(REGARDING_TYPES), id: Id }, { additionalProperties: false });

const activityFields = {
  id: Id,
  mailboxId: Nullable(Type.String({ format: 'uuid', description: 'The mailbox the email was sent from or first received in' })),
  mailboxIds: Type.Array(Id, { description: 'Every mailbox the email belongs to: the first, and every other mailbox of the organization that received it' }),
  ownerId: Nullable(Id),
  direction: StringEnum(DIRECTIONS),
  status: StringEnum(ACTIVITY_STATUSES),
  subject: Type.String(),
  messageId: Nullable(Type.String()),
  inReplyTo: Nullable(Type.String()),
  references: Type.Array(Type.String(), { description: 'The Message-IDs of the References header, oldest first' }),
  conversationId: Nullable(Type.String({ description: "The server's conversation id (EWS ConversationId, or Thread-Index's conversation part)" })),
  trackingToken: Nullable(Type.String()),
  regarding: Nullable(Type.Object({ type: StringEnum(REGARDING_TYPES), id: Id })),
  notes: Type.Array(Type.String(), { description: 'What Liaison noted while tracking the email (attachments left out, and why), one line each' }),
  failureReason: Nullable(Type.String({ description: 'Why the last attempt to send it failed; null when none did' })),
  deliveryAttempts: Type.Integer(),
  sentAt: Nullable(DateTime),
  receivedAt: Nullable(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
  from: Type.Array(Party),
  to: Type.Array(Party),
  cc: Type.Array(Party),
  bcc: Type.Array(Party),
  attachments: Type.Array(
    Type.Object({ id: Id, fileName: Type.String(), contentType: Type.String(), size: Type.Integer() }),
    { description: 'What the files are; each one’s content is read from its own /content URL' },
  ),
};

/** One email with its bodies, as reading it by id gives it. */
export const Activity = Type.Object({
  ...activityFields,
  bodyText: Nullable(Type.String()),
  bodyHtml: Nullable(Type.String()),
});

/** One email in a list: no bodies (read the email by id for them), only the start of the text body. */
export const ActivitySummary = Type.Object(
  {
    ...activityFields,
    bodyExcerpt: Nullable(
      Type.String({
        maxLength: ACTIVITY_LIMITS.excerptLength,
        description: `The first ${ACTIVITY_LIMITS.excerptLength} characters of the text body; null when it has none`,
      }),
    ),
  },
  { title: 'ActivitySummary' },
);

const recipients = Type.Optional(Type.Array(Email, { maxItems: ACTIVITY_LIMITS.recipientsPerRole }));
const NewAttachment = Type.Object(
  {
    fileName: Type.String({ minLength: 1, maxLength: 255 }),
    contentType: Type.Optional(Type.String({ maxLength: 255, default: 'application/octet-stream' })),
    contentBase64: Type.String({
      maxLength: base64Length(ATTACHMENT_POLICY.maxBytes),
      description: `The file, base64-encoded (whitespace ignored); at most ${ATTACHMENT_POLICY.maxBytes / 1024} KB once decoded`,
    }),
  },
  { additionalProperties: false },
);

const body = (kind: string) =>
  Type.Optional(
    Nullable(Type.String({ maxLength: ACTIVITY_LIMITS.bodyMaxLength, description: `The ${kind} body, at most ${ACTIVITY_LIMITS.bodyMaxLength} characters` })),
  );

const draftFields = {
  subject: Type.Optional(Type.String({ maxLength: ACTIVITY_LIMITS.subjectMaxLength })),
  bodyText: body('text'),
  bodyHtml: body('HTML'),
  to: recipients,
  cc: recipients,
  bcc: recipients,
  regarding: Type.Optional(Nullable(Regarding)),
  attachments: Type.Optional(
    Type.Array(NewAttachment, {
      maxItems: ATTACHMENT_POLICY.maxCount,
      description:
        `Added to the email's attachments. An email holds at most ${ATTACHMENT_POLICY.maxCount} attachments of ` +
        `${ATTACHMENT_POLICY.maxTotalBytes / 1024} KB together`,
    }),
  ),
};

export const ActivityCreate = Type.Object(
  {
    mailboxId: Type.Optional(Type.Intersect([Id], { description: 'The sending mailbox; defaults to the caller’s own' })),
    inReplyToActivityId: Type.Optional(
      Type.Intersect([Id], {
        description:
          'The email this one answers: its Message-ID becomes In-Reply-To, its References and Message-ID the References, and its regarding record this one’s unless regarding is given',
      }),
    ),
    ...draftFields,
  },
  { additionalProperties: false },
);
export const ActivityUpdate = Type.Object(draftFields, { additionalProperties: false });

export const ActivityQuery = Type.Object(
  {
    ...PageQuery,
    mailboxId: Type.Optional(Id),
    direction: Type.Optional(StringEnum(DIRECTIONS)),
    status: Type.Optional(StringEnum(ACTIVITY_STATUSES)),
    regardingId: Type.Optional(Id),
    conversationId: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: "Only the email of this conversation (the activity's conversationId), exactly" })),
    messageId: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Only the email of this Message-ID (with its angle brackets), exactly: e.g. what an inReplyTo names' })),
    party: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 320,
        description: 'Only email with a party (from, to, cc or bcc) whose address or display name contains this text, case aside (on SQLite only ASCII letters are folded)',
      }),
    ),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only email whose subject contains this text, case aside (as party)' })),
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          "Only email at or after this moment: an incoming email's receivedAt, an outgoing one's sentAt, or its createdAt while it has neither (a draft, one waiting to be sent). Compared to the second",
      }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Only email before this moment (the same moment as since; later than since)' })),
  },
  { additionalProperties: false },
);

export const AlertQuery = Type.Object(
  {
    ...PageQuery,
    profileId: Type.Optional(Id),
    mailboxId: Type.Optional(Id),
    level: Type.Optional(StringEnum(ALERT_LEVELS)),
    scope: Type.Optional(StringEnum(ALERT_SCOPES)),
  },
  { additionalProperties: false },
);

// ---- organization ----

export const Organization = Type.Object({
  useTrackingToken: Type.Boolean({ description: 'Put a tracking token in the subject of email sent from the CRM, and correlate replies by it' }),
  trackingTokenPrefix: Type.String({ description: 'The token\'s prefix, e.g. CRM:' }),
  trackingTokenDigits: Type.Integer({ description: 'Digits of the token\'s number, zero-padded' }),
  maxAttachmentBytes: Type.Integer({ description: 'Attachments over this size are left out of tracked email, with a note on it' }),
  blockedAttachmentExtensions: Type.Array(Type.String(), { description: 'File extensions (lower case, no dot) left out of tracked email' }),
  systemNotificationMailboxId: Nullable(
    Type.String({ format: 'uuid', description: 'The mailbox system notifications (the profile owner\'s failure email) are sent from; null: none are sent' }),
  ),
  defaultProfileId: Nullable(
    Type.String({
      format: 'uuid',
      description: 'The default email server profile: what Apply Default Email Server Profile associates mailboxes with; null: none is set. The profile cannot be deleted while it is the default',
    }),
  ),
});

export const OrganizationUpdate = Type.Object(
  {
    useTrackingToken: Type.Optional(Type.Boolean()),
    trackingTokenPrefix: Type.Optional(Type.String({ minLength: 1, maxLength: ORGANIZATION_LIMITS.prefixMaxLength })),
    trackingTokenDigits: Type.Optional(Type.Integer({ minimum: ORGANIZATION_LIMITS.digits.min, maximum: ORGANIZATION_LIMITS.digits.max })),
    maxAttachmentBytes: Type.Optional(Type.Integer({ minimum: ORGANIZATION_LIMITS.maxAttachmentBytes.min, maximum: ORGANIZATION_LIMITS.maxAttachmentBytes.max })),
    blockedAttachmentExtensions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 33 }), { maxItems: ORGANIZATION_LIMITS.blockedExtensions })),
    systemNotificationMailboxId: Type.Optional(Nullable(Id)),
    defaultProfileId: Type.Optional(Nullable(Id)),
  },
  { additionalProperties: false, minProperties: 1 },
);

// ---- console sign-in ----

const NewPassword = Type.String({
  minLength: PASSWORD_LIMITS.minLength,
  maxLength: PASSWORD_LIMITS.maxLength,
  description: `${PASSWORD_LIMITS.minLength} to ${PASSWORD_LIMITS.maxLength} characters, not only spaces`,
});

export const SessionCreate = Type.Object(
  { email: Email, password: Type.String({ minLength: 1, maxLength: PASSWORD_LIMITS.maxLength }) },
  { additionalProperties: false },
);

export const SessionInfo = Type.Object({
  user: User,
  csrfToken: Type.String({ description: 'Send it as the X-CSRF-Token header with every POST, PUT, PATCH and DELETE made with the session cookie' }),
  expiresAt: Type.String({
    format: 'date-time',
    description: 'When the session ends unless used: 12 hours after its last use, never more than 7 days after signing in',
  }),
});

export const SetupStatus = Type.Object({
  needed: Type.Boolean({ description: 'True while no administrator has a password' }),
  mode: Nullable(
    StringEnum(['create-admin', 'set-password'] as const, {
      description: 'create-admin: there is no administrator, the setup creates one (email and name); set-password: administrators exist, none with a password',
    }),
  ),
});

export const SetupRequest = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 256, description: 'The one-time token of the setup link Liaison printed when it started (after the #)' }),
    password: NewPassword,
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: 'create-admin: the new administrator\'s address; set-password: which administrator (optional when only one has no password)' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'create-admin: the new administrator\'s name' })),
  },
  { additionalProperties: false },
);

export const PasswordChange = Type.Object(
  {
    password: NewPassword,
    currentPassword: Type.Optional(
      Type.String({
        maxLength: PASSWORD_LIMITS.maxLength,
        description: 'Required to change your own password (if you have one); an administrator sets another user\'s without it',
      }),
    ),
  },
  { additionalProperties: false },
);

// ---- dashboard ----

const StatusCounts = Type.Object(
  {
    success: Type.Integer({ minimum: 0 }),
    failure: Type.Integer({ minimum: 0 }),
    notRun: Type.Integer({ minimum: 0 }),
    disabled: Type.Integer({ minimum: 0 }),
  },
  {
    description:
      'Mailboxes by status, each counted once: disabled when not enabled; otherwise only the directions the mailbox synchronizes ' +
      '(method server-side-sync) count: failure when one of their statuses is failure, success when all are success, not-run otherwise ' +
      '(a direction has not run yet). Statuses are those of the mailboxes API (not-run, success, failure).',
  },
);

const DashboardMailbox = {
  id: Id,
  name: Type.String(),
  emailAddress: Type.String(),
  profileId: Nullable(Id),
  profileName: Nullable(Type.String()),
};

export const Dashboard = Type.Object(
  {
    generatedAt: DateTime,
    totals: Type.Object({
      mailboxes: Type.Integer({ minimum: 0 }),
      enabled: Type.Integer({ minimum: 0 }),
      failing: Type.Integer({ minimum: 0, description: 'Mailboxes whose status is failure (all of them; failing lists at most 20)' }),
      trackedToday: Type.Integer({ minimum: 0, description: 'Incoming email activities Liaison recorded since 00:00 UTC today' }),
      trackedLast24Hours: Type.Integer({ minimum: 0, description: 'The sum of trackedPerHour' }),
    }),
    profiles: Type.Array(
      Type.Object({
        profileId: Nullable(Type.String({ format: 'uuid', description: 'null: the mailboxes with no email server profile' })),
        profileName: Nullable(Type.String()),
        total: Type.Integer({ minimum: 0 }),
        counts: StatusCounts,
      }),
      { description: 'One row per profile (an administrator sees every profile, those without mailboxes too), by name; the mailboxes with no profile last' },
    ),
    failing: Type.Array(
      Type.Object({
        ...DashboardMailbox,
        consecutiveFailures: Type.Integer({ minimum: 0 }),
        lastError: Nullable(Type.String()),
        lastSuccessAt: Nullable(DateTime),
        lastFailureAt: Nullable(DateTime),
      }),
      { maxItems: 20, description: 'Mailboxes whose status is failure: most consecutive failures first, then the oldest last success (never first); at most 20' },
    ),
    trackedPerHour: Type.Array(
      Type.Object({
        hour: Type.String({ format: 'date-time', description: 'The start of the hour (UTC)' }),
        count: Type.Integer({ minimum: 0 }),
      }),
      {
        minItems: 24,
        maxItems: 24,
        description:
          'Incoming email activities by the hour Liaison recorded them (their createdAt, not the time the mail server received them), ' +
          'oldest first: the 23 hours before the current one, and the current one so far. An email that reached several mailboxes is one activity.',
      },
    ),
    oldestUnsynced: Nullable(
      Type.Object(
        {
          ...DashboardMailbox,
          lastSuccessAt: Nullable(Type.String({ format: 'date-time', description: 'null: it never synchronized successfully' })),
          since: Type.String({ format: 'date-time', description: 'What ageMs counts from: the last success; for one that never succeeded, its last Test & Enable or else its creation' }),
          ageMs: Type.Integer({ minimum: 0 }),
        },
        { description: 'The enabled mailbox whose last successful sync is the oldest (one that never succeeded comes first); null: no mailbox is enabled' },
      ),
    ),
    pendingSend: Type.Object({
      count: Type.Integer({ minimum: 0, description: 'Email activities waiting to be sent: status pending-send or sending' }),
      sending: Type.Integer({ minimum: 0, description: 'Of those, being sent now' }),
      oldestSince: Nullable(Type.String({ format: 'date-time', description: 'The oldest waiting email\'s last change (when it was put in pending send, or its last attempt)' })),
      oldestAgeMs: Nullable(Type.Integer({ minimum: 0 })),
      deliveryUncertain: Type.Integer({ minimum: 0, description: 'Sends whose outcome is unknown: a person must decide (POST /email-activities/{id}/delivery)' }),
    }),
  },
  {
    title: 'Dashboard',
    description:
      "What the console's dashboard shows, for the mailboxes the caller may see: an administrator every mailbox, another user their own " +
      "mailbox and their queues' (as GET /mailboxes), and the email of those mailboxes (as GET /email-activities).",
  },
);
