/**
 * Email server profiles: the rules that hold when a profile is saved, and the defaults filled in on save.
 * Pure functions; the store calls normalizeProfile() before every write.
 */
import { X509Certificate } from 'node:crypto';
import { clientCertificateProblem } from './client-certificate.js';
import { DATE_TIME_HINT, toIsoDateTime } from './dates.js';
import { Problems } from './errors.js';

export const SERVER_TYPES = ['exchange', 'exchange-online', 'imap-smtp', 'pop3-smtp'] as const;
export type ServerType = (typeof SERVER_TYPES)[number];

/** How an Exchange profile's service account signs in: Basic over TLS (the default), or NTLMv2 with channel binding. */
export const AUTHENTICATION_METHODS = ['basic', 'ntlm'] as const;
export type AuthenticationMethod = (typeof AUTHENTICATION_METHODS)[number];

/**
 * Where an IMAP or POP3 profile's logins come from. IMAP and POP3 have no impersonation: either one service login
 * acts for every mailbox (`profile`: a master user, Dovecot's `user*master`), or each mailbox holds its own user
 * name and password (`mailbox`, encrypted like the profile's, write-only in the API).
 */
export const CREDENTIAL_SOURCES = ['profile', 'mailbox'] as const;
export type CredentialSource = (typeof CREDENTIAL_SOURCES)[number];

/** Dovecot's default `auth_master_user_separator`: the master user logs in as `mailbox*master`. */
export const DEFAULT_MASTER_USER_SEPARATOR = '*';

export const PROFILE_LIMITS = {
  nameMaxLength: 100,
  descriptionMaxLength: 2000,
  serverMaxLength: 2084,
  usernameMaxLength: 250,
  port: { min: 1, max: 65535 },
  maxConcurrentConnections: { min: 1, max: 300, default: 27 },
  minPollingIntervalMinutes: { min: 0, max: 1440, default: 0 },
  /**
   * How long one call to the mail server may take, connect included. Every server type has calls that can hang,
   * so it is a setting of every profile; the commercial product caps it at 100 s, and so does Liaison.
   */
  requestTimeoutSeconds: { min: 1, max: 100, default: 100 },
} as const;

/** Microsoft Graph's global endpoint, the default for Exchange Online profiles. */
export const GRAPH_DEFAULT_URL = 'https://graph.microsoft.com';

/** The Microsoft identity platform's global sign-in host: an Exchange Online profile's authority is it + /<tenantId> by default. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** The authority an Exchange Online profile signs in at: its own, or https://login.microsoftonline.com/<tenantId>. */
export function authorityOf(settings: Pick<ProfileSettings, 'authority' | 'tenantId'>): string {
  return settings.authority ?? `${DEFAULT_AUTHORITY_HOST}/${settings.tenantId ?? 'common'}`;
}

/** What a profile holds once saved, apart from its secrets (which are stored encrypted, elsewhere). */
export interface ProfileSettings {
  name: string;
  description: string | null;
  serverType: ServerType;
  autodiscover: boolean;
  /** Exchange only; null for the other server types. */
  authentication: AuthenticationMethod | null;
  incomingServer: string | null;
  incomingPort: number | null;
  outgoingServer: string | null;
  outgoingPort: number | null;
  useSameSettingsForOutgoing: boolean;
  username: string | null;
  outgoingUsername: string | null;
  tenantId: string | null;
  clientId: string | null;
  /**
   * Exchange Online: the Microsoft identity platform authority (token endpoint) as an https URL with the tenant,
   * e.g. https://login.microsoftonline.us/<tenantId> for a national cloud or the sandbox's; null: the global one,
   * https://login.microsoftonline.com/<tenantId> (authorityOf).
   */
  authority: string | null;
  trustedCaPem: string | null;
  processEmailFrom: string | null;
  minPollingIntervalMinutes: number;
  maxConcurrentConnections: number;
  requestTimeoutSeconds: number;
  moveFailedToUndeliverable: boolean;
  notifyOwnerOnFailure: boolean;
  ownerId: string;
  /** IMAP/POP3: whose logins are used (null for Exchange and Exchange Online). */
  credentialSource: CredentialSource | null;
  /**
   * IMAP/POP3 with profile credentials: what joins the mailbox's login and the master user's name
   * (`alice@contoso.com*liaison`); null for other profiles.
   */
  masterUserSeparator: string | null;
  /** POP3: delete a message from the server once its outcome is recorded (default: leave mail on the server). */
  deleteAfterTracking: boolean;
  /** IMAP/SMTP: the SMTP server saves the copy in Sent itself, so Liaison does not APPEND one. */
  serverSavesSentCopy: boolean;
}

/** clientCertificate: Exchange Online, a PEM holding the app's certificate and its private key (instead of or besides a clientSecret). */
export type SecretField = 'password' | 'outgoingPassword' | 'clientSecret' | 'clientCertificate';
export type SecretPresence = Record<SecretField, boolean>;

/** Input as a caller gives it: any field may be missing (not given) or null (empty). */
export type ProfileInput = { [K in keyof ProfileSettings]?: ProfileSettings[K] | null } & {
  [K in SecretField]?: string | null;
};

/** Fields that only some server types use; giving one for another type is an error. */
const TYPE_FIELDS: Record<string, readonly ServerType[]> = {
  autodiscover: ['exchange'],
  authentication: ['exchange'],
  username: ['exchange', 'imap-smtp', 'pop3-smtp'],
  password: ['exchange', 'imap-smtp', 'pop3-smtp'],
  useSameSettingsForOutgoing: ['exchange', 'imap-smtp', 'pop3-smtp'],
  outgoingUsername: ['exchange', 'imap-smtp', 'pop3-smtp'],
  outgoingPassword: ['exchange', 'imap-smtp', 'pop3-smtp'],
  tenantId: ['exchange-online'],
  clientId: ['exchange-online'],
  clientSecret: ['exchange-online'],
  clientCertificate: ['exchange-online'],
  authority: ['exchange-online'],
  credentialSource: ['imap-smtp', 'pop3-smtp'],
  masterUserSeparator: ['imap-smtp', 'pop3-smtp'],
  deleteAfterTracking: ['pop3-smtp'],
  serverSavesSentCopy: ['imap-smtp'],
};

export function appliesTo(field: string, type: ServerType): boolean {
  const types = TYPE_FIELDS[field];
  return types === undefined || types.includes(type);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

/** Schemes a mail server location may carry, and the port and security each implies. */
export const MAIL_SCHEMES: Record<string, { port: number; tls: 'implicit' | 'starttls'; kind: 'imap' | 'pop3' | 'smtp' }> = {
  imaps: { port: 993, tls: 'implicit', kind: 'imap' },
  imap: { port: 143, tls: 'starttls', kind: 'imap' },
  pop3s: { port: 995, tls: 'implicit', kind: 'pop3' },
  pop3: { port: 110, tls: 'starttls', kind: 'pop3' },
  smtps: { port: 465, tls: 'implicit', kind: 'smtp' },
  submissions: { port: 465, tls: 'implicit', kind: 'smtp' },
  smtp: { port: 587, tls: 'starttls', kind: 'smtp' },
  submission: { port: 587, tls: 'starttls', kind: 'smtp' },
};

export interface MailServerLocation {
  scheme: string | null;
  host: string;
  port: number | null;
}

/** Reads "host", "host:port", "[v6]:port" or "scheme://host[:port]"; returns a problem text when unreadable. */
export function parseMailServer(value: string): MailServerLocation | string {
  let rest = value.trim();
  let scheme: string | null = null;
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1]!.toLowerCase();
    if (!(scheme in MAIL_SCHEMES)) {
      return `scheme "${scheme}://" is not one Liaison knows (use ${Object.keys(MAIL_SCHEMES).join(', ')}, or a bare host name)`;
    }
    rest = rest.slice(schemeMatch[0].length).replace(/\/$/, '');
  }
  if (rest.includes('/') || rest.includes('@') || rest === '') {
    return `"${value}" is not a host name (expected host, host:port or scheme://host:port)`;
  }
  let host = rest;
  let port: number | null = null;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    port = v6[2] === undefined ? null : Number(v6[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      const portText = rest.slice(colon + 1);
      if (!/^\d+$/.test(portText)) return `"${value}" has a port that is not a number`;
      host = rest.slice(0, colon);
      port = Number(portText);
    }
    if (!IPV4.test(host) && !host.split('.').every((label) => HOST_LABEL.test(label))) {
      return `"${host}" is not a valid host name`;
    }
  }
  if (port !== null && (port < PROFILE_LIMITS.port.min || port > PROFILE_LIMITS.port.max)) {
    return `port ${port} is outside 1-65535`;
  }
  return { scheme, host, port };
}

type Direction = 'incoming' | 'outgoing';

function portField(direction: Direction): 'incomingPort' | 'outgoingPort' {
  return direction === 'incoming' ? 'incomingPort' : 'outgoingPort';
}

/** Validates an https URL (EWS, Graph) and returns the port it implies. */
function checkHttpsUrl(
  problems: Problems,
  field: string,
  value: string,
  explicitPort: number | null | undefined,
  direction: Direction,
  why: string,
): number | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.add(field, `"${value}" is not a URL; enter the full https:// address, e.g. https://mail.contoso.com/EWS/Exchange.asmx`);
    return null;
  }
  if (url.protocol !== 'https:') {
    problems.add(
      field,
      `the URL must start with https:// (${why}); "${value}" starts with ${url.protocol}//, so the profile was not saved`,
    );
    return null;
  }
  if (url.username || url.password) {
    problems.add(field, 'the URL must not carry a user name or password; use the username and password fields');
    return null;
  }
  const urlPort = url.port === '' ? 443 : Number(url.port);
  if (explicitPort != null && explicitPort !== urlPort) {
    problems.add(
      portField(direction),
      `${explicitPort} disagrees with ${field}, which says port ${urlPort}; put the port in the URL or leave ${portField(direction)} empty`,
    );
  }
  return urlPort;
}

/** Validates a mail host location for IMAP/POP3 (incoming) or SMTP (outgoing) and returns its port. */
function checkMailServer(
  problems: Problems,
  field: string,
  value: string,
  explicitPort: number | null | undefined,
  kind: 'imap' | 'pop3' | 'smtp',
  defaultPort: number,
): number | null {
  const parsed = parseMailServer(value);
  if (typeof parsed === 'string') {
    problems.add(field, parsed);
    return null;
  }
  const scheme = parsed.scheme === null ? null : MAIL_SCHEMES[parsed.scheme]!;
  if (scheme && scheme.kind !== kind) {
    problems.add(field, `${parsed.scheme}:// is a ${scheme.kind.toUpperCase()} address, but this field needs a ${kind.toUpperCase()} server`);
    return null;
  }
  const implied = parsed.port ?? scheme?.port ?? null;
  const fieldName = field === 'incomingServer' ? 'incomingPort' : 'outgoingPort';
  if (explicitPort != null && parsed.port !== null && explicitPort !== parsed.port) {
    problems.add(fieldName, `${explicitPort} disagrees with ${field}, which says port ${parsed.port}`);
  }
  return explicitPort ?? implied ?? defaultPort;
}

function checkUsername(problems: Problems, field: string, value: string, type: ServerType): void {
  if (value.length > PROFILE_LIMITS.usernameMaxLength) {
    problems.add(field, `must be at most ${PROFILE_LIMITS.usernameMaxLength} characters`);
  } else if (type === 'exchange' && !/^[^\s@\\]+@[^\s@\\]+$/.test(value) && !/^[^\s@\\]+\\[^\s@\\]+$/.test(value)) {
    problems.add(field, `"${value}" must be the service account's user principal name (svc-crm@contoso.com) or DOMAIN\\user`);
  }
}

/**
 * An Exchange Online authority: an https URL without credentials, query or fragment, naming the tenant (or
 * organizations/common) in its path; returned without a trailing slash.
 */
function checkAuthority(problems: Problems, value: string): string | null {
  const example = `e.g. ${DEFAULT_AUTHORITY_HOST}/<tenantId>`;
  if (value.length > PROFILE_LIMITS.serverMaxLength) {
    problems.add('authority', `must be at most ${PROFILE_LIMITS.serverMaxLength} characters`);
    return null;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.add('authority', `"${value}" is not a URL; enter the sign-in authority with the tenant, ${example}, or leave it empty for that`);
    return null;
  }
  if (url.protocol !== 'https:') {
    problems.add('authority', `must start with https:// (tokens are requested over https only); "${value}" starts with ${url.protocol}//`);
    return null;
  }
  if (url.username || url.password) {
    problems.add('authority', 'must not carry a user name or password');
    return null;
  }
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    problems.add('authority', `must not have a query (?…) or a fragment (#…): just the authority, ${example}`);
    return null;
  }
  const normalized = url.href.replace(/\/+$/, '');
  if (url.pathname.replace(/\/+$/, '') === '') {
    problems.add('authority', `must name the tenant after the host: ${url.origin}/<tenantId> (${example})`);
    return null;
  }
  return normalized;
}

/** Reads every certificate of a PEM bundle; returns why it is unusable, or null. */
export function pemProblem(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!blocks) return 'must hold one or more PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${index + 1} of ${blocks.length} could not be read: ${(error as Error).message}`;
    }
  }
  return null;
}

function normalizeDateTime(problems: Problems, field: string, value: string): string | null {
  const iso = toIsoDateTime(value);
  if (iso === null) problems.add(field, `"${value}" is not ${DATE_TIME_HINT}`);
  return iso;
}

function checkRange(
  problems: Problems,
  field: string,
  value: number,
  range: { min: number; max: number },
  unit = '',
): void {
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    problems.add(field, `must be a whole number from ${range.min} to ${range.max}${unit}; got ${value}`);
  }
}

const SSL_MANDATORY = 'Exchange needs SSL, so Liaison will not save an email server profile whose URL does not start with https';

/**
 * Checks a complete profile (a new one, or a stored one with a change applied) and fills in what was left
 * empty: ports from the server type or the location, the advanced options' defaults.
 * `secrets` says which secrets the profile will hold after the save.
 */
export function normalizeProfile(input: ProfileInput, given: Partial<SecretPresence>, now: Date = new Date()): ProfileSettings {
  const secrets: SecretPresence = { password: false, outgoingPassword: false, clientSecret: false, clientCertificate: false, ...given };
  const problems = new Problems();
  const name = input.name?.trim() ?? '';
  if (name === '') problems.add('name', 'is required');
  else if (name.length > PROFILE_LIMITS.nameMaxLength) problems.add('name', `must be at most ${PROFILE_LIMITS.nameMaxLength} characters`);

  const type = input.serverType;
  if (type == null || !SERVER_TYPES.includes(type)) {
    problems.add('serverType', `must be one of ${SERVER_TYPES.join(', ')}`);
    problems.throwIfAny();
  }
  const serverType = type as ServerType;

  for (const field of Object.keys(TYPE_FIELDS)) {
    const value = (input as Record<string, unknown>)[field];
    const given = value !== undefined && value !== null && value !== false && !(field === 'useSameSettingsForOutgoing' && value === true);
    if (given && !appliesTo(field, serverType)) {
      problems.add(field, `does not apply to ${serverType} profiles; leave it out`);
    }
  }

  const description = input.description?.trim() || null;
  if (description && description.length > PROFILE_LIMITS.descriptionMaxLength) {
    problems.add('description', `must be at most ${PROFILE_LIMITS.descriptionMaxLength} characters`);
  }

  let credentialSource: CredentialSource | null = null;
  let masterUserSeparator: string | null = null;
  let autodiscover = false;
  let authentication: AuthenticationMethod | null = null;
  let incomingServer = input.incomingServer?.trim() || null;
  let outgoingServer = input.outgoingServer?.trim() || null;
  let incomingPort: number | null = null;
  let outgoingPort: number | null = null;
  for (const [field, value] of [['incomingServer', incomingServer], ['outgoingServer', outgoingServer]] as const) {
    if (value && value.length > PROFILE_LIMITS.serverMaxLength) problems.add(field, `must be at most ${PROFILE_LIMITS.serverMaxLength} characters`);
  }
  for (const field of ['incomingPort', 'outgoingPort'] as const) {
    const value = input[field];
    if (value != null) checkRange(problems, field, value, PROFILE_LIMITS.port);
  }

  const useSame = serverType === 'exchange-online' ? true : (input.useSameSettingsForOutgoing ?? true);
  let username = input.username?.trim() || null;
  let outgoingUsername = input.outgoingUsername?.trim() || null;
  const tenantId = input.tenantId?.trim() || null;
  const clientId = input.clientId?.trim() || null;
  let authority = input.authority?.trim() || null;

  switch (serverType) {
    case 'exchange': {
      autodiscover = input.autodiscover ?? true;
      authentication = input.authentication ?? 'basic';
      if (!AUTHENTICATION_METHODS.includes(authentication)) {
        problems.add('authentication', `must be one of ${AUTHENTICATION_METHODS.join(', ')}`);
      }
      if (!autodiscover && !incomingServer) {
        problems.add(
          'incomingServer',
          'Autodiscover is off, so the EWS URL is required, e.g. https://mail.contoso.com/EWS/Exchange.asmx (it must start with https)',
        );
      }
      if (incomingServer) incomingPort = checkHttpsUrl(problems, 'incomingServer', incomingServer, input.incomingPort, 'incoming', SSL_MANDATORY);
      else incomingPort = input.incomingPort ?? 443;
      // EWS sends through the same endpoint it reads from, so an empty outgoing location means "the same URL".
      if (outgoingServer) outgoingPort = checkHttpsUrl(problems, 'outgoingServer', outgoingServer, input.outgoingPort, 'outgoing', SSL_MANDATORY);
      else if (incomingServer && !autodiscover) [outgoingServer, outgoingPort] = [incomingServer, incomingPort];
      else outgoingPort = input.outgoingPort ?? 443;
      if (!username) problems.add('username', "is required: the service account (UPN, e.g. svc-crm@contoso.com) that holds the ApplicationImpersonation role");
      else checkUsername(problems, 'username', username, serverType);
      if (!secrets.password) problems.add('password', "is required: the service account's password");
      break;
    }
    case 'exchange-online': {
      if (input.autodiscover) problems.add('autodiscover', 'does not apply to exchange-online profiles (Microsoft Graph has one global endpoint); leave it out');
      incomingServer ??= GRAPH_DEFAULT_URL;
      const why = 'Microsoft Graph is reached over https only';
      incomingPort = checkHttpsUrl(problems, 'incomingServer', incomingServer, input.incomingPort, 'incoming', why);
      if (outgoingServer) outgoingPort = checkHttpsUrl(problems, 'outgoingServer', outgoingServer, input.outgoingPort, 'outgoing', why);
      else [outgoingServer, outgoingPort] = [incomingServer, incomingPort];
      if (!tenantId) problems.add('tenantId', 'is required: the directory (tenant) ID of the app registration, a GUID or a domain such as contoso.onmicrosoft.com');
      else if (!GUID.test(tenantId) && !DOMAIN.test(tenantId)) problems.add('tenantId', `"${tenantId}" is neither a GUID nor a domain name`);
      if (!clientId) problems.add('clientId', 'is required: the application (client) ID of the app registration, a GUID');
      else if (!GUID.test(clientId)) problems.add('clientId', `"${clientId}" is not a GUID (the application (client) ID looks like 00000000-0000-0000-0000-000000000000)`);
      if (!secrets.clientSecret && !secrets.clientCertificate) {
        problems.add('clientSecret', 'is required, or clientCertificate instead: a client secret of the app registration (or its certificate with the private key)');
      }
      if (typeof input.clientCertificate === 'string' && input.clientCertificate.trim() !== '') {
        const problem = clientCertificateProblem(input.clientCertificate, now);
        if (problem) problems.add('clientCertificate', problem);
      }
      if (authority) authority = checkAuthority(problems, authority);
      username = null;
      outgoingUsername = null;
      break;
    }
    case 'imap-smtp':
    case 'pop3-smtp': {
      const kind = serverType === 'imap-smtp' ? 'imap' : 'pop3';
      if (input.autodiscover) problems.add('autodiscover', `does not apply to ${serverType} profiles; enter incomingServer and outgoingServer`);
      if (!incomingServer) problems.add('incomingServer', `is required: the ${kind.toUpperCase()} server's host name, e.g. ${kind}.example.com`);
      else incomingPort = checkMailServer(problems, 'incomingServer', incomingServer, input.incomingPort, kind, kind === 'imap' ? 993 : 995);
      if (!outgoingServer) problems.add('outgoingServer', "is required: the SMTP server's host name, e.g. smtp.example.com");
      else outgoingPort = checkMailServer(problems, 'outgoingServer', outgoingServer, input.outgoingPort, 'smtp', 587);
      // A master user given means the profile logs in for every mailbox; none means each mailbox's own login.
      credentialSource = input.credentialSource ?? (username ? 'profile' : 'mailbox');
      if (!CREDENTIAL_SOURCES.includes(credentialSource)) {
        problems.add('credentialSource', `must be one of ${CREDENTIAL_SOURCES.join(', ')}`);
      } else if (credentialSource === 'profile') {
        if (!username) problems.add('username', `is required when credentialSource is profile: the master user that may log in for every mailbox (Dovecot: a master passdb user)`);
        else checkUsername(problems, 'username', username, serverType);
        if (!secrets.password) problems.add('password', "is required when credentialSource is profile: the master user's password");
        masterUserSeparator = input.masterUserSeparator ?? DEFAULT_MASTER_USER_SEPARATOR;
        if (masterUserSeparator.length < 1 || masterUserSeparator.length > 4 || /[^\x21-\x7e]/.test(masterUserSeparator)) {
          problems.add('masterUserSeparator', `must be 1 to 4 visible characters (Dovecot's auth_master_user_separator, usually *); got "${masterUserSeparator}"`);
        }
      } else {
        if (username) problems.add('username', 'credentialSource is mailbox, so each mailbox holds its own login; leave the profile username out');
        if (input.password) problems.add('password', 'credentialSource is mailbox, so each mailbox holds its own password; leave the profile password out');
        if (input.masterUserSeparator) problems.add('masterUserSeparator', 'applies only when credentialSource is profile');
        username = null;
      }
      if (kind === 'pop3' && input.moveFailedToUndeliverable) {
        problems.add('moveFailedToUndeliverable', 'POP3 has no folders, so failed emails cannot be moved to an Undeliverable folder; leave it off');
      }
      break;
    }
  }
  if (useSame) {
    if (outgoingUsername) problems.add('outgoingUsername', 'applies only when useSameSettingsForOutgoing is false');
    if (secrets.outgoingPassword && input.outgoingPassword) problems.add('outgoingPassword', 'applies only when useSameSettingsForOutgoing is false');
  } else if (serverType === 'exchange') {
    if (!outgoingUsername) problems.add('outgoingUsername', 'is required when useSameSettingsForOutgoing is false');
    if (!secrets.outgoingPassword) problems.add('outgoingPassword', 'is required when useSameSettingsForOutgoing is false');
  }
  if (outgoingUsername) checkUsername(problems, 'outgoingUsername', outgoingUsername, serverType);
  if (!useSame && serverType !== 'exchange' && Boolean(outgoingUsername) !== secrets.outgoingPassword) {
    problems.add(outgoingUsername ? 'outgoingPassword' : 'outgoingUsername', 'outgoingUsername and outgoingPassword go together');
  }

  const trustedCaPem = input.trustedCaPem?.trim() || null;
  if (trustedCaPem) {
    const problem = pemProblem(trustedCaPem);
    if (problem) problems.add('trustedCaPem', problem);
  }

  const processEmailFrom = input.processEmailFrom ? normalizeDateTime(problems, 'processEmailFrom', input.processEmailFrom) : null;
  const minPollingIntervalMinutes = input.minPollingIntervalMinutes ?? PROFILE_LIMITS.minPollingIntervalMinutes.default;
  checkRange(problems, 'minPollingIntervalMinutes', minPollingIntervalMinutes, PROFILE_LIMITS.minPollingIntervalMinutes, ' minutes');
  const maxConcurrentConnections = input.maxConcurrentConnections ?? PROFILE_LIMITS.maxConcurrentConnections.default;
  checkRange(problems, 'maxConcurrentConnections', maxConcurrentConnections, PROFILE_LIMITS.maxConcurrentConnections);
  const requestTimeoutSeconds = input.requestTimeoutSeconds ?? PROFILE_LIMITS.requestTimeoutSeconds.default;
  checkRange(problems, 'requestTimeoutSeconds', requestTimeoutSeconds, PROFILE_LIMITS.requestTimeoutSeconds, ' seconds');

  const ownerId = input.ownerId ?? '';
  if (!ownerId) problems.add('ownerId', 'is required: the user who owns the profile and receives its alerts');

  problems.throwIfAny();
  return {
    name,
    description,
    serverType,
    autodiscover,
    authentication,
    incomingServer,
    incomingPort,
    outgoingServer,
    outgoingPort,
    useSameSettingsForOutgoing: useSame,
    username,
    outgoingUsername: useSame ? null : outgoingUsername,
    tenantId,
    clientId,
    authority: serverType === 'exchange-online' ? authority : null,
    trustedCaPem,
    processEmailFrom,
    minPollingIntervalMinutes,
    maxConcurrentConnections,
    requestTimeoutSeconds,
    moveFailedToUndeliverable: input.moveFailedToUndeliverable ?? false,
    notifyOwnerOnFailure: input.notifyOwnerOnFailure ?? false,
    ownerId,
    credentialSource,
    masterUserSeparator,
    deleteAfterTracking: serverType === 'pop3-smtp' ? (input.deleteAfterTracking ?? false) : false,
    serverSavesSentCopy: serverType === 'imap-smtp' ? (input.serverSavesSentCopy ?? false) : false,
  };
}

/**
 * Applies a change to a stored profile. A port that was filled in from the old server type or location is
 * derived again when either changes (unless the change gives the port), and fields the new server type does
 * not use are dropped.
 */
export function applyProfileChange(current: ProfileSettings, change: ProfileInput): ProfileInput {
  const merged: ProfileInput = { ...current, ...stripUndefined(change) };
  const typeChanged = change.serverType !== undefined && change.serverType !== current.serverType;
  if ((typeChanged || change.incomingServer !== undefined) && change.incomingPort === undefined) merged.incomingPort = null;
  if ((typeChanged || change.outgoingServer !== undefined || change.incomingServer !== undefined) && change.outgoingPort === undefined) {
    merged.outgoingPort = null;
  }
  if (change.incomingServer !== undefined && change.outgoingServer === undefined && current.outgoingServer === current.incomingServer) {
    // The outgoing URL was the incoming one by default; keep following it.
    if (serverFamily(current.serverType) === 'https') merged.outgoingServer = null;
  }
  if (change.credentialSource === 'mailbox' && current.credentialSource !== 'mailbox') {
    // Each mailbox logs in itself from now on: the master user is forgotten unless the change names one.
    if (change.username === undefined) merged.username = null;
    if (change.masterUserSeparator === undefined) merged.masterUserSeparator = null;
  }
  if (typeChanged) {
    const type = change.serverType as ServerType;
    for (const field of Object.keys(TYPE_FIELDS)) {
      if (!appliesTo(field, type) && (change as Record<string, unknown>)[field] === undefined) {
        (merged as Record<string, unknown>)[field] = field === 'useSameSettingsForOutgoing' ? true : field === 'autodiscover' ? false : null;
      }
    }
    if (type === 'exchange' && change.autodiscover === undefined) merged.autodiscover = true;
    if (change.incomingServer === undefined && serverFamily(current.serverType) !== serverFamily(type)) merged.incomingServer = null;
    if (change.outgoingServer === undefined && serverFamily(current.serverType) !== serverFamily(type)) merged.outgoingServer = null;
  }
  return merged;
}

/** Profiles whose locations are interchangeable: an https URL, or a mail host. */
function serverFamily(type: ServerType): 'https' | 'mail' {
  return type === 'exchange' || type === 'exchange-online' ? 'https' : 'mail';
}

/** The secrets a saved profile keeps; any other stored secret is deleted on save. */
export function secretsKept(settings: ProfileSettings): SecretField[] {
  if (settings.serverType === 'exchange-online') return ['clientSecret', 'clientCertificate'];
  if (settings.credentialSource === 'mailbox') return settings.useSameSettingsForOutgoing ? [] : ['outgoingPassword'];
  return settings.useSameSettingsForOutgoing ? ['password'] : ['password', 'outgoingPassword'];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
