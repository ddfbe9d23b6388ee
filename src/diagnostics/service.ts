/**
 * What the API, the console and the CLI ask of the diagnostics: the contract the Exchange implementation
 * (src/diagnostics/exchange.ts), the IMAP/POP3/SMTP one (src/diagnostics/mail.ts) and the Exchange Online one
 * (src/diagnostics/graph.ts) fulfil, each for its kind of
 * target; src/diagnostics/index.ts joins them into the one service the callers hold. Tests replace it with a
 * double where they test the plumbing only.
 */
import type { MailLogin } from '../connectors/mail/credentials.js';
import type { MailEndpoint } from '../connectors/mail/endpoint.js';
import type { ConnectionTestResult, StepEvent } from './types.js';

export interface ExchangeTarget {
  kind: 'exchange';
  email: string;
  username: string;
  password: string;
  auth: 'basic' | 'ntlm';
  url: string | null /* fixed EWS URL when Autodiscover is off */;
  autodiscover: boolean;
  trustedCaPem: string | null;
  resolve: readonly string[];
  timeoutMs: number;
  maxConcurrentConnections: number;
}

/** One IMAP, POP3 or SMTP server to test, and who logs in to it. */
export interface MailServerTarget {
  /** Where it is, its TLS mode, and what to dial (the `--resolve` overrides already applied). */
  endpoint: MailEndpoint;
  login: MailLogin;
}

export interface MailTarget {
  kind: 'mail';
  /** The mailbox's address: the Inbox step 3 opens (as `login`), the sender SMTP's MAIL FROM names. */
  email: string;
  /** Tested in this order, each in three steps: an IMAP/SMTP profile lists its incoming server, then its outgoing one. */
  servers: MailServerTarget[];
  trustedCaPem: string | null;
  /** Connecting, the TLS handshake and each reply, in ms. */
  timeoutMs: number;
}

/**
 * An Exchange Online mailbox reached through Microsoft Graph with app-only OAuth (client credentials): the app
 * registration (tenant, client id, secret or certificate), where its tokens come from and where Graph is.
 */
export interface GraphTarget {
  kind: 'graph';
  /** The mailbox step 3 opens (its Inbox; for sending, its Sent Items). */
  email: string;
  /** The directory (tenant) ID: a GUID or a domain (contoso.onmicrosoft.com). */
  tenantId: string;
  /** The application (client) ID of the app registration. */
  clientId: string;
  /** One of the two is set: the client secret's value, or a PEM holding the certificate and its private key. */
  clientSecret: string | null;
  certificatePem: string | null;
  /** The token authority, e.g. https://login.microsoftonline.com/<tenant> (the sandbox's stands in for it). */
  authority: string;
  /** Microsoft Graph's base URL, without /v1.0 (https://graph.microsoft.com). */
  graphUrl: string;
  trustedCaPem: string | null;
  resolve: readonly string[];
  timeoutMs: number;
  /**
   * What the mailbox is tested for: incoming needs Mail.ReadWrite, outgoing Mail.Send (and Mail.ReadWrite, for the
   * draft Liaison creates, then sends). Test Connection tests both; Test & Enable the directions the mailbox syncs.
   */
  directions: ReadonlyArray<'incoming' | 'outgoing'>;
}

export type DiagnosticTarget = ExchangeTarget | MailTarget | GraphTarget;

export interface MailboxTestOptions {
  /** Exchange and Exchange Online: create Inbox/Undeliverable when the profile moves failed emails there. */
  createUndeliverable: boolean;
  cachedEwsUrl?: string | null;
}

export interface MailboxTestResult extends ConnectionTestResult {
  /* same steps; plus */ ewsUrl?: string;
}

/**
 * Test Connection and Test & Enable for one kind of target. Written as properties, not methods, so that the
 * compiler refuses an Exchange-only implementation where any target may come.
 */
export interface TargetDiagnostics<T> {
  testConnection: (target: T, onEvent?: (e: StepEvent) => void) => Promise<ConnectionTestResult>;
  testMailbox: (target: T, options: MailboxTestOptions, onEvent?: (e: StepEvent) => void) => Promise<MailboxTestResult>;
}

export type DiagnosticsService = TargetDiagnostics<DiagnosticTarget>;
