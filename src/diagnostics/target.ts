/**
 * From a saved profile to what the diagnostics connect to: the one place the API and the engine build it. The
 * profile's server type picks how (a table, not a switch in the callers); the service then picks the steps by the
 * target's kind (src/diagnostics/index.ts).
 */
import { loginFor, type MailboxLogin } from '../connectors/mail/credentials.js';
import { mailEndpoint } from '../connectors/mail/endpoint.js';
import type { ServerType } from '../domain/profile.js';
import { ConflictError } from '../domain/errors.js';
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { DiagnosticTarget, ExchangeTarget, MailTarget } from './service.js';

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
  // Microsoft Graph has no connector yet: its profiles cannot be tested.
  'exchange-online': null,
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
