/**
 * From a saved profile to what the diagnostics connect to: the one place the API and the engine build it. The
 * profile's server type picks how (a table, not a switch in the callers); the service then picks the steps by the
 * target's kind (src/diagnostics/index.ts).
 */
import { loginFor, type MailboxLogin } from '../connectors/mail/credentials.js';
import { mailEndpoint } from '../connectors/mail/endpoint.js';
import { authorityOf, GRAPH_DEFAULT_URL, type ServerType } from '../domain/profile.js';
import { ConflictError } from '../domain/errors.js';
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { DiagnosticTarget, ExchangeTarget, GraphTarget, MailTarget } from './service.js';

/** Which servers of a mail profile a test covers: Test Connection both; Test & Enable the directions the mailbox synchronizes. */
export type MailDirection = 'incoming' | 'outgoing';

export interface TargetInput {
  /** The host-name overrides this Liaison was started with (`--resolve`, LIAISON_RESOLVE). */
  resolve: readonly string[];
  /** IMAP/POP3 profiles whose credentialSource is mailbox: the tested mailbox's own login; null when it has none. */
  mailboxLogin?: MailboxLogin | null;
  /** IMAP/POP3 profiles: the servers to test; default both. */
  directions?: readonly MailDirection[];
}

type TargetBuilder = (profile: Profile, secrets: ProfileSecrets, email: string, input: TargetInput) => DiagnosticTarget;

const BUILDERS: Record<ServerType, TargetBuilder | null> = {
  exchange: (profile, secrets, email, input) => exchangeTargetOf(profile, secrets, email, input.resolve),
  'exchange-online': (profile, secrets, email, input) => graphTargetOf(profile, secrets, email, input),
  'imap-smtp': (profile, secrets, email, input) => mailTargetOf(profile, secrets, email, input),
  'pop3-smtp': (profile, secrets, email, input) => mailTargetOf(profile, secrets, email, input),
};

/** Why the profile cannot be tested, or null when it can. */
export function untestableProfile(profile: Profile): string | null {
  if (!BUILDERS[profile.serverType]) {
    return `profile "${profile.name}" is an ${profile.serverType} profile; Liaison cannot test ${profile.serverType} profiles yet, the ${profile.serverType} connector is not built`;
  }
  return null;
}

/** The target for testing `email` through the profile, whatever its server type. Throws ConflictError when it cannot be built. */
export function targetOf(profile: Profile, secrets: ProfileSecrets, email: string, input: TargetInput): DiagnosticTarget {
  const builder = BUILDERS[profile.serverType];
  if (!builder) throw new ConflictError(`Cannot test: ${untestableProfile(profile)}`);
  return builder(profile, secrets, email, input);
}

/**
 * The target for testing `email` through an Exchange profile: its service account (with the decrypted password),
 * its authentication, its fixed EWS URL when Autodiscover is off, its extra CA, its timeout and connection cap,
 * and the host-name overrides this Liaison was started with (`--resolve`, LIAISON_RESOLVE).
 */
export function exchangeTargetOf(profile: Profile, secrets: ProfileSecrets, email: string, resolve: readonly string[]): ExchangeTarget {
  if (profile.serverType !== 'exchange') throw new ConflictError(`Cannot test: profile "${profile.name}" is an ${profile.serverType} profile, not an Exchange one`);
  if (!profile.username || !secrets.password) {
    throw new ConflictError(`Cannot test: profile "${profile.name}" has no service account ${profile.username ? 'password' : 'user name'}; set it first`);
  }
  return {
    kind: 'exchange',
    email,
    username: profile.username,
    password: secrets.password,
    auth: profile.authentication ?? 'basic',
    url: profile.autodiscover ? null : profile.incomingServer,
    autodiscover: profile.autodiscover,
    trustedCaPem: profile.trustedCaPem,
    resolve: [...resolve],
    timeoutMs: profile.requestTimeoutSeconds * 1000,
    maxConcurrentConnections: profile.maxConcurrentConnections,
  };
}

/**
 * The target for testing `email` through an IMAP/SMTP or POP3/SMTP profile: its incoming server and its outgoing
 * (SMTP) server, each with the login the connectors would use (the master user for the address, the mailbox's own
 * login, or the profile's SMTP login). Throws MissingLoginError (src/connectors/mail/credentials.ts) when the
 * profile or the mailbox lacks that login.
 */
export function mailTargetOf(profile: Profile, secrets: ProfileSecrets, email: string, input: TargetInput): MailTarget {
  const directions = input.directions ?? ['incoming', 'outgoing'];
  return {
    kind: 'mail',
    email,
    servers: directions.map((direction) => ({
      endpoint: mailEndpoint(profile, direction, input.resolve),
      login: loginFor(profile, secrets, email, input.mailboxLogin ?? null, direction),
    })),
    trustedCaPem: profile.trustedCaPem,
    timeoutMs: profile.requestTimeoutSeconds * 1000,
  };
}

/**
 * The target for testing `email` through an Exchange Online profile: its app registration (tenant, client id, the
 * decrypted client secret or certificate), its authority (the global one unless the profile names another, as
 * the sandbox's), its Graph URL, extra CA and timeout, and the directions to test the permissions for.
 */
export function graphTargetOf(profile: Profile, secrets: ProfileSecrets, email: string, input: TargetInput): GraphTarget {
  if (profile.serverType !== 'exchange-online') throw new ConflictError(`Cannot test: profile "${profile.name}" is an ${profile.serverType} profile, not an Exchange Online one`);
  const clientSecret = secrets.clientSecret ?? null;
  const certificatePem = secrets.clientCertificate ?? null;
  const missing = [!profile.tenantId && 'directory (tenant) ID', !profile.clientId && 'application (client) ID', !clientSecret && !certificatePem && 'client secret or certificate'].filter(Boolean);
  if (missing.length > 0) throw new ConflictError(`Cannot test: profile "${profile.name}" has no ${missing.join(', ')}; set it first`);
  return {
    kind: 'graph',
    email,
    tenantId: profile.tenantId!,
    clientId: profile.clientId!,
    clientSecret,
    certificatePem,
    authority: authorityOf(profile),
    graphUrl: profile.incomingServer ?? GRAPH_DEFAULT_URL,
    trustedCaPem: profile.trustedCaPem,
    resolve: [...input.resolve],
    timeoutMs: profile.requestTimeoutSeconds * 1000,
    directions: [...(input.directions ?? ['incoming', 'outgoing'])],
  };
}
