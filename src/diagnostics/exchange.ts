/**
 * Test Connection, Test & Enable and the connectivity analyzer for Exchange (EWS), in three steps as the seed
 * documents list them: 1. Autodiscover / HTTPS connection, 2. EWS connection, 3. Mailbox connection. Each step
 * is timed, and a failing one says what was asked, what Exchange answered and what to do. The API, the console
 * and `liaison analyze` all run this code, so they never disagree.
 */
import { AutodiscoverError, discoverEwsUrl } from '../connectors/ews/autodiscover/index.js';
import { EwsClient } from '../connectors/ews/client.js';
import { createHttpTransport } from '../connectors/ews/transport/http.js';
import { TransportError, type Credentials, type HttpTransport, type TransportOptions } from '../connectors/ews/transport/types.js';
import { EwsFaultError, EwsResponseError } from '../connectors/ews/soap/errors.js';
import { ensureUndeliverableFolder, openInbox, probeEws } from '../connectors/ews/mailbox.js';
import { explain401, explainError, explainingHeaders } from './explain.js';
import type { ExchangeTarget, MailboxTestOptions, MailboxTestResult, TargetDiagnostics } from './service.js';
import { runStep, skipped, type Emit, type StepOutcome } from './steps.js';
import type { ConnectionTestResult, StepResult } from './types.js';

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function credentialsOf(target: ExchangeTarget): Credentials {
  return { username: target.username, password: target.password, method: target.auth };
}

export interface ExchangeDiagnosticsOptions {
  /** Makes the transport of one run (tests wrap the real one to check what is sent). */
  transportFactory?: (options: TransportOptions) => HttpTransport;
}

function transportFor(target: ExchangeTarget, factory: (options: TransportOptions) => HttpTransport): HttpTransport {
  return factory({
    trustedCaPem: target.trustedCaPem,
    resolve: target.resolve,
    timeoutMs: target.timeoutMs,
    connectTimeoutMs: Math.min(target.timeoutMs, 30_000),
    maxInFlightPerKey: target.maxConcurrentConnections,
  });
}

/** Step 1 with Autodiscover: find the EWS URL of the mailbox, listing every URL tried when nothing is found. */
async function autodiscoverStep(target: ExchangeTarget, transport: HttpTransport, found: { url?: string }): Promise<StepOutcome> {
  try {
    // Each URL may take the whole call timeout; the search as a whole gets twice that, then it is reported.
    const result = await discoverEwsUrl(target.email, { transport, credentials: credentialsOf(target), signal: AbortSignal.timeout(autodiscoverDeadlineMs(target)) });
    found.url = result.ewsUrl;
    return {
      status: 'success',
      summary: `Found ${result.ewsUrl} for ${result.smtpAddress ?? target.email} by Autodiscover (${result.method.toUpperCase()}, ${result.foundAt})`,
      request: { method: 'POST', url: result.foundAt },
      details: result.attempts.map(describeAttempt),
    };
  } catch (error) {
    if (!(error instanceof AutodiscoverError)) return { status: 'failure', summary: '', diagnosis: explainError(error, errorContext(target, '')) };
    const attempts = error.attempts.map(describeAttempt);
    if (error.reason === 'aborted') {
      return {
        status: 'failure',
        summary: '',
        diagnosis: {
          code: 'autodiscover-timeout',
          summary: `Autodiscover did not finish within ${Math.round(autodiscoverDeadlineMs(target) / 1000)} s for ${target.email}`,
          fix: 'A server on the way accepts connections but does not answer; see the URLs tried, or turn Autodiscover off and enter the EWS URL',
        },
        details: attempts,
      };
    }
    // An Autodiscover service that answered "no such user" was found; the address is what is wrong.
    const unknown = error.attempts.find((a) => a.code === 'InvalidUser' || (a.method === 'pox' && a.code === '500'));
    if (unknown) {
      return {
        status: 'failure',
        summary: '',
        request: { method: 'POST', url: unknown.url },
        diagnosis: {
          code: 'no-such-mailbox',
          summary: `Autodiscover at ${hostOf(unknown.url)} does not know ${target.email}: ${unknown.detail}`,
          fix: "Check the address: it must be the mailbox's primary SMTP address (or one of its proxy addresses) in this Exchange organization",
        },
        details: attempts,
      };
    }
    // An Autodiscover endpoint that refused the credentials exists: the problem is the sign-in, not the discovery.
    // One 401 could be a web site's, not Exchange's: a sign-in problem is concluded when every Autodiscover URL
    // that answered over HTTP answered 401.
    const answered = error.attempts.filter((a) => a.httpStatus !== undefined && (a.method === 'soap' || a.method === 'pox'));
    const unauthorized = answered.filter((a) => a.httpStatus === 401);
    if (unauthorized.length > 0 && unauthorized.length === answered.length) {
      const last = unauthorized[unauthorized.length - 1]!;
      const d = explain401(authenticateOf(last.headers), target.auth, target.username, hostOf(last.url));
      return {
        status: 'failure',
        summary: '',
        request: { method: 'POST', url: last.url },
        diagnosis: { ...d, serverAnswer: { httpStatus: 401, headers: explainingHeaders(last.headers) } },
        details: attempts,
      };
    }
    // A certificate problem explains the failure only when no Autodiscover URL answered at all.
    const tls = answered.length === 0 ? error.attempts.find((a) => a.transport?.kind === 'tls') : undefined;
    if (tls?.transport) {
      const { kind, ...details } = tls.transport;
      const tlsError = new TransportError(kind, tls.detail, details);
      return { status: 'failure', summary: '', request: { method: 'POST', url: tls.url }, diagnosis: explainError(tlsError, errorContext(target, hostOf(tls.url))), details: attempts };
    }
    const domain = target.email.split('@')[1] ?? '';
    return {
      status: 'failure',
      summary: '',
      diagnosis: {
        code: 'autodiscover-not-found',
        summary: `Autodiscover found no EWS URL for ${target.email}: ${error.message}`,
        fix:
          `Publish Autodiscover for ${domain} (https://autodiscover.${domain}/autodiscover/autodiscover.svc, or the SRV record _autodiscover._tcp.${domain}), ` +
          'or turn Autodiscover off in the profile and enter the EWS URL (https://<server>/EWS/Exchange.asmx)',
      },
      details: attempts,
    };
  }
}

function autodiscoverDeadlineMs(target: ExchangeTarget): number {
  return 2 * target.timeoutMs;
}

function authenticateOf(headers: Record<string, string>): string[] {
  const value = headers['www-authenticate'];
  return value ? [value] : [];
}

function describeAttempt(attempt: { url: string; method: string; outcome: string; httpStatus?: number; detail?: string }): string {
  return `${attempt.method.toUpperCase()} ${attempt.url}: ${attempt.outcome}${attempt.httpStatus !== undefined ? ` (HTTP ${attempt.httpStatus})` : ''}${attempt.detail ? `: ${attempt.detail}` : ''}`;
}

/** Step 1 without Autodiscover: the fixed URL is https and its server completes a verified TLS handshake. */
async function httpsStep(target: ExchangeTarget, transport: HttpTransport, found: { url?: string }): Promise<StepOutcome> {
  const url = target.url ?? '';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { status: 'failure', summary: '', diagnosis: { code: 'bad-url', summary: `"${url}" is not a URL`, fix: 'Enter the full EWS URL, e.g. https://mail.contoso.com/EWS/Exchange.asmx' } };
  }
  if (parsed.protocol !== 'https:') {
    return { status: 'failure', summary: '', diagnosis: { code: 'insecure-url', summary: `${url} is not https`, fix: 'Exchange URLs must start with https://; Liaison never sends credentials over plain http' } };
  }
  try {
    const answer = await transport.request({ method: 'GET', url, credentials: null });
    found.url = url;
    const cert = answer.peerCertificate;
    return {
      status: 'success',
      summary: `Connected to ${parsed.host} over verified TLS (HTTP ${answer.status} without credentials)`,
      request: { method: 'GET', url },
      ...(cert ? { details: [`certificate: ${cert.subject}, issued by ${cert.issuer}, valid to ${cert.validTo}`] } : {}),
    };
  } catch (error) {
    return { status: 'failure', summary: '', request: { method: 'GET', url }, diagnosis: explainError(error, errorContext(target, parsed.host)) };
  }
}

function errorContext(target: ExchangeTarget, host: string) {
  return { username: target.username, mailbox: target.email, host, method: target.auth };
}

/**
 * Step 2: the service account signs in to EWS. The service account need not have a mailbox of its own, so an
 * EWS answer that the mailbox does not exist still proves the connection and the sign-in.
 */
async function ewsStep(target: ExchangeTarget, client: EwsClient, url: string): Promise<StepOutcome> {
  const request = { method: 'POST', url };
  try {
    const probe = await probeEws(client);
    return { status: 'success', summary: `Signed in to ${hostOf(url)} as ${target.username} (${target.auth === 'ntlm' ? 'NTLM' : 'Basic'}); ${probe}`, request };
  } catch (error) {
    if ((error instanceof EwsFaultError || error instanceof EwsResponseError) && ['ErrorNonExistentMailbox', 'ErrorMissingEmailAddress', 'ErrorMailRecipientNotFound'].includes(error.responseCode)) {
      return { status: 'success', summary: `Signed in to ${hostOf(url)} as ${target.username} (${target.auth === 'ntlm' ? 'NTLM' : 'Basic'}); the account has no mailbox of its own, as a service account need not`, request };
    }
    return { status: 'failure', summary: '', request, diagnosis: explainError(error, errorContext(target, hostOf(url))) };
  }
}

async function mailboxStep(target: ExchangeTarget, client: EwsClient, url: string, options: MailboxTestOptions | null): Promise<StepOutcome> {
  const request = { method: 'POST', url };
  try {
    const inbox = await openInbox(client, target.email);
    const details: string[] = [];
    let summary = `Opened the Inbox of ${target.email} as ${target.username} by impersonation (${inbox.totalCount} items, ${inbox.unreadCount} unread)`;
    if (options?.createUndeliverable) {
      const folder = await ensureUndeliverableFolder(client, target.email);
      summary += folder.created ? '; created the folder Inbox/Undeliverable' : '; the folder Inbox/Undeliverable exists';
    }
    if (client.serverVersion) details.push(`server version: ${client.serverVersion}`);
    details.push(`request version: ${client.version}`);
    return { status: 'success', summary, request, details };
  } catch (error) {
    return { status: 'failure', summary: '', request, diagnosis: explainError(error, errorContext(target, hostOf(url))) };
  }
}

async function run(target: ExchangeTarget, options: MailboxTestOptions | null, emit: Emit, factory: (options: TransportOptions) => HttpTransport): Promise<MailboxTestResult> {
  const startedAt = new Date();
  const started = performance.now();
  const steps: StepResult[] = [];
  let transport: HttpTransport;
  try {
    transport = transportFor(target, factory);
  } catch (error) {
    // A resolve entry or trusted CA that cannot be read: nothing can be tried, and the step says which setting.
    const message = (error as Error).message;
    steps.push(
      await runStep('autodiscover', emit, async () => ({
        status: 'failure',
        summary: '',
        diagnosis: { code: 'bad-configuration', summary: message, fix: /--resolve/.test(message) ? 'Correct the --resolve entry (host:port:address[:port])' : 'Correct the trusted CA certificate (PEM, one or more CERTIFICATE blocks)' },
      })),
    );
    steps.push(skipped('ews', emit, 'Not run: the connection settings cannot be used'));
    steps.push(skipped('mailbox', emit, 'Not run: the connection settings cannot be used'));
    return { status: 'failure', startedAt: startedAt.toISOString(), elapsedMs: Math.round(performance.now() - started), mailbox: target.email, steps };
  }
  const found: { url?: string } = {};
  try {
    steps.push(
      await runStep('autodiscover', emit, () => (target.autodiscover ? autodiscoverStep(target, transport, found) : httpsStep(target, transport, found))),
    );
    const url = found.url;
    if (url === undefined) {
      steps.push(skipped('ews', emit, 'Not run: step 1 found no EWS URL'));
      steps.push(skipped('mailbox', emit, 'Not run: step 1 found no EWS URL'));
    } else {
      const client = new EwsClient({ transport, url, credentials: credentialsOf(target) });
      const ews = await runStep('ews', emit, () => ewsStep(target, client, url));
      steps.push(ews);
      if (ews.status === 'success') steps.push(await runStep('mailbox', emit, () => mailboxStep(target, client, url, options)));
      else steps.push(skipped('mailbox', emit, 'Not run: the EWS connection failed'));
    }
  } finally {
    await transport.close();
  }
  const result: MailboxTestResult = {
    status: steps.every((s) => s.status === 'success') ? 'success' : 'failure',
    startedAt: startedAt.toISOString(),
    elapsedMs: Math.round(performance.now() - started),
    mailbox: target.email,
    steps,
  };
  if (found.url !== undefined) result.ewsUrl = found.url;
  return result;
}

export function createExchangeDiagnostics(options: ExchangeDiagnosticsOptions = {}): TargetDiagnostics<ExchangeTarget> {
  const factory = options.transportFactory ?? createHttpTransport;
  return {
    testConnection: (target: ExchangeTarget, onEvent?: Emit): Promise<ConnectionTestResult> => run(target, null, onEvent ?? (() => undefined), factory),
    testMailbox: (target: ExchangeTarget, testOptions: MailboxTestOptions, onEvent?: Emit): Promise<MailboxTestResult> =>
      run(target, testOptions, onEvent ?? (() => undefined), factory),
  };
}

