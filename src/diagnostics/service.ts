/**
 * What the API, the console and the CLI ask of the diagnostics: the contract the Exchange implementation
 * (src/diagnostics/exchange.ts) and the IMAP/POP3/SMTP one (src/diagnostics/mail.ts) fulfil, each for its kind of
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

export type DiagnosticTarget = ExchangeTarget | MailTarget;

export interface MailboxTestOptions {
  /** Exchange: create Inbox/Undeliverable when the profile moves failed emails there. */
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
