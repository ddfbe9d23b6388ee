/**
 * What Test Connection, Test & Enable and the connectivity analyzer report: the same shapes in the API, the
 * console and the CLI's --json, so the three never disagree.
 */
import type { ServerAnswer } from '../connectors/ews/explain.js';

/**
 * The three steps as the seed documents number them. Exchange: Autodiscover (or the fixed URL's HTTPS), EWS, the
 * mailbox. IMAP, POP3 and SMTP: the server (DNS, TCP, TLS), the protocol and the login, the mailbox (Inbox
 * examined, STAT and UIDL, or the sender accepted by MAIL FROM). Exchange Online (Microsoft Graph): the token
 * endpoint issues a token, Graph accepts it and the app holds the permissions, the mailbox opens. 'mailbox' is
 * step 3 of all.
 */
export type StepName = 'autodiscover' | 'ews' | 'server' | 'login' | 'token' | 'graph' | 'mailbox';
export type StepStatus = 'success' | 'failure' | 'skipped';

export const STEP_TITLES: Record<StepName, string> = {
  autodiscover: 'Autodiscover / HTTPS connection',
  ews: 'EWS connection',
  server: 'Server connection (DNS, TCP, TLS)',
  login: 'Protocol and login',
  token: 'Token from the identity platform',
  graph: 'Microsoft Graph and permissions',
  mailbox: 'Mailbox connection',
};

/** The steps of an Exchange test, in order. */
export const EXCHANGE_STEPS: readonly StepName[] = ['autodiscover', 'ews', 'mailbox'];
/** The steps of an Exchange Online (Microsoft Graph) test, in order. */
export const GRAPH_STEPS: readonly StepName[] = ['token', 'graph', 'mailbox'];
/**
 * The steps of one IMAP, POP3 or SMTP server, in order. A profile's test runs them for its incoming server, then
 * again for its outgoing (SMTP) server: six steps, each titled with its protocol and marked with it.
 */
export const MAIL_STEPS: readonly StepName[] = ['server', 'login', 'mailbox'];

/** Which mail protocol a step spoke, on the steps of IMAP/POP3/SMTP tests. */
export type StepProtocol = 'imap' | 'pop3' | 'smtp';

/** The server's side of a failure: one shape, kept beside the connector that reads the answers. */
export type { ServerAnswer } from '../connectors/ews/explain.js';

export interface StepResult {
  step: StepName;
  title: string;
  status: StepStatus;
  elapsedMs: number;
  /** One line: what happened ("Found https://mail.contoso.test/EWS/Exchange.asmx by Autodiscover (SOAP)"). */
  summary: string;
  /**
   * The request made, when the step made one: Exchange's HTTP method and URL; for IMAP/POP3/SMTP the command the
   * server answered (a password replaced) and the server's URL (imaps://mail.example.com:993).
   */
  request?: { method: string; url: string };
  serverAnswer?: ServerAnswer;
  /** The likely fix, when the step failed. */
  fix?: string;
  /** Further lines: every Autodiscover URL tried and what it answered, certificate names, … */
  details?: string[];
  /** A stable code for the diagnosis (basic-auth-disabled, impersonation-denied, tls-name-mismatch, …). */
  code?: string;
  /** IMAP/POP3/SMTP tests: the server's protocol, which tells the incoming server's steps from the outgoing one's. */
  protocol?: StepProtocol;
}

export interface ConnectionTestResult {
  status: 'success' | 'failure';
  startedAt: string;
  elapsedMs: number;
  /** The mailbox address tested in step 3. */
  mailbox: string;
  /** The EWS URL used (found or configured), when known. */
  ewsUrl?: string;
  steps: StepResult[];
}

/** Live progress for the analyzer's spinner: a step starts, then ends with its result. */
export type StepEvent = { type: 'start'; step: StepName; title: string; protocol?: StepProtocol } | { type: 'end'; result: StepResult };
