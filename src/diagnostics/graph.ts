/**
 * Test Connection, Test & Enable and the connectivity analyzer for Exchange Online through Microsoft Graph, in the
 * three steps of the seed documents:
 *   1. Token: the Microsoft identity platform issues an app-only token (client credentials) for the tenant and
 *      app; on failure the AADSTS code, Azure AD's own error_description and the fix in the app registration.
 *   2. Microsoft Graph and permissions: Graph accepts the token, and the token's roles hold what the profile
 *      needs (Mail.ReadWrite to track incoming mail, Mail.Send and Mail.ReadWrite to send: Liaison creates a
 *      draft, then sends it).
 *   3. Mailbox connection: the mailbox's Inbox is read (and, to send, its Sent Items, which Liaison searches
 *      before retrying a send); an application access policy or RBAC for Applications that scopes the app away
 *      from the mailbox, or a mailbox not in Exchange Online, is named with its PowerShell fix.
 * The connector's token provider and Graph client make every request (src/connectors/graph/); this file decides
 * what each answer means for the administrator.
 */
import { TransportError } from '../connectors/ews/transport/types.js';
import { GraphError, GraphProtocolError, GraphTokenError } from '../connectors/graph/errors.js';
import {
  accessPolicyFix,
  explainAadsts as explainAadstsText,
  explainInvalidToken,
  explainMailboxNotEnabled,
  explainNoMailbox,
  permissionFix,
  type GraphExplainContext,
} from '../connectors/graph/explain.js';
import { jwtClaims } from '../connectors/graph/token.js';
import { explainTransportError, type Diagnosis } from './explain.js';
import { defaultGraphSession } from './graph-session.js';
import type { GraphTarget, MailboxTestOptions, MailboxTestResult, TargetDiagnostics } from './service.js';
import { runStep, skipped, type Emit, type StepOutcome } from './steps.js';
import type { ConnectionTestResult, ServerAnswer, StepResult } from './types.js';

/** A token as the connector's GraphTokens gives it. */
export interface GraphSessionToken {
  accessToken: string;
  expiresAt: Date;
  roles: string[];
}

/**
 * What the steps need of Microsoft Graph for one run: a token, and JSON requests with it. The default is the
 * connector's GraphTokens and GraphClient (graph-session.ts); failures are thrown as the connector throws them
 * (GraphTokenError from token(), GraphError from get, TransportError for the network).
 */
export interface GraphSession {
  token(): Promise<GraphSessionToken>;
  /** GET a path under /v1.0 (users/…); the parsed JSON answer. */
  get(path: string): Promise<unknown>;
  /** Inbox/Undeliverable exists afterwards, made as the connector makes it; true when this call created it. */
  ensureUndeliverable(): Promise<boolean>;
  close(): Promise<void>;
}

export interface GraphDiagnosticsOptions {
  /** Makes the session of one run (tests may wrap the real one). */
  sessionFactory?: (target: GraphTarget) => GraphSession;
}

/** The permissions Liaison needs, per direction (Graph's application permission names). */
export const GRAPH_PERMISSIONS_NEEDED: Record<'incoming' | 'outgoing', readonly string[]> = {
  // Reading the Inbox's delta and the MIME needs Mail.Read; moving failed mail to Inbox/Undeliverable and creating that folder need Mail.ReadWrite.
  incoming: ['Mail.ReadWrite'],
  // Liaison creates a draft in the sender's mailbox (Mail.ReadWrite), sends it (Mail.Send), and searches Sent Items before a retry.
  outgoing: ['Mail.ReadWrite', 'Mail.Send'],
};

// ---- what the connector threw, as the steps show it ----

interface TokenFailure {
  aadsts: string | null;
  oauthError: string | null;
  status: number | null;
  serverResponse: string | null;
  message: string;
}

interface GraphFailure {
  status: number;
  code: string;
  message: string;
  serverResponse: string | null;
  retryAfterMs: number | null;
}

function asTokenFailure(error: unknown): TokenFailure | null {
  if (!(error instanceof GraphTokenError)) return null;
  return { aadsts: error.aadsts, oauthError: error.oauthError, status: error.status, serverResponse: error.serverResponse, message: error.message };
}

function asGraphFailure(error: unknown): GraphFailure | null {
  if (!(error instanceof GraphError)) return null;
  return { status: error.status, code: error.code, message: error.message, serverResponse: error.serverResponse, retryAfterMs: error.retryAfterMs };
}

function contextOf(target: Pick<GraphTarget, 'tenantId' | 'clientId' | 'authority' | 'email' | 'graphUrl'>): GraphExplainContext {
  return { clientId: target.clientId, tenantId: target.tenantId, authorityHost: hostOf(target.authority), mailbox: target.email, graphHost: hostOf(target.graphUrl) };
}

function parseJson(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const EXCERPT_CHARS = 1500;

/**
 * Azure AD's answer as a step shows it: the AADSTS code (and OAuth's error), its error_description verbatim, trace
 * and correlation ids included. The connector keeps it as `error: description`, or as the JSON Azure AD sent.
 */
function tokenAnswer(failure: TokenFailure): ServerAnswer {
  const body = parseJson(failure.serverResponse);
  const answer: ServerAnswer = {};
  if (failure.status !== null) answer.httpStatus = failure.status;
  let description: string | null = typeof body?.error_description === 'string' ? body.error_description : null;
  let error: string | null = typeof body?.error === 'string' ? body.error : failure.oauthError;
  if (!body && failure.serverResponse) {
    const split = /^([a-z_]+): ([\s\S]*)$/.exec(failure.serverResponse);
    if (split) [error, description] = [split[1]!, split[2]!];
    else description = failure.serverResponse;
    // MSAL wraps Azure AD's error_description ("Error(s): … - Description: AADSTS… - Correlation ID: …"): the description itself is shown.
    const inner = /Description:\s*([\s\S]*?)(?:\s+-\s+Correlation ID:[\s\S]*)?$/.exec(description);
    if (inner?.[1]) description = inner[1];
  }
  const code = failure.aadsts ?? description?.match(/AADSTS\d+/)?.[0] ?? null;
  if (code || error) answer.responseCode = code && error ? `${code} (${error})` : (code ?? error)!;
  answer.messageText = (description ?? failure.message).replace(/\r\n/g, '\n').slice(0, EXCERPT_CHARS);
  return answer;
}

/** Graph's answer as a step shows it: its error code and message, and the request ids Microsoft support asks for. */
function graphAnswer(failure: GraphFailure): ServerAnswer {
  const body = parseJson(failure.serverResponse);
  const error = body?.error && typeof body.error === 'object' ? (body.error as Record<string, unknown>) : null;
  const answer: ServerAnswer = { httpStatus: failure.status };
  const code = typeof error?.code === 'string' ? error.code : failure.code;
  const message = typeof error?.message === 'string' ? error.message : failure.message;
  if (code) answer.responseCode = code;
  if (message) answer.messageText = message;
  const inner = (error?.innerError ?? error?.innererror) as Record<string, unknown> | undefined;
  const ids = ['request-id', 'client-request-id', 'date'].filter((k) => typeof inner?.[k] === 'string').map((k) => `${k}: ${String(inner![k])}`);
  if (ids.length > 0) answer.excerpt = ids.join('\n');
  if (failure.retryAfterMs !== null) answer.headers = { 'retry-after': String(Math.ceil(failure.retryAfterMs / 1000)) };
  if (!code && !message && failure.serverResponse) answer.excerpt = failure.serverResponse.slice(0, EXCERPT_CHARS);
  return answer;
}

// ---- step 1: the token ----

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function tokenEndpoint(target: GraphTarget): string {
  return `${target.authority.replace(/\/+$/, '')}/oauth2/v2.0/token`;
}

function credentialName(target: GraphTarget): string {
  // As the connector chooses: the secret when the profile holds both.
  return target.clientSecret ? 'its client secret' : 'its certificate';
}

/**
 * An AADSTS code as step 1 reports it: the connector's own summary and fix (the engine's alerts say the same), the
 * code as the engine classifies it (aad.AADSTS7000215).
 */
export function explainAadsts(aadsts: string, target: Pick<GraphTarget, 'tenantId' | 'clientId' | 'authority' | 'email' | 'graphUrl'>, description: string | null = null): { code: string; summary: string; fix: string } {
  const explained = explainAadstsText(aadsts, description, contextOf(target));
  return { code: `aad.${aadsts}`, summary: explained.summary, fix: explained.fix ?? `Look ${aadsts} up in Microsoft's AADSTS error reference` };
}

function explainNetwork(error: unknown, host: string): Diagnosis | null {
  if (error instanceof TransportError) return explainTransportError(error);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : typeof cause?.code === 'string' ? cause.code : null;
  if (!code) return null;
  const message = (error as Error).message;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { code: 'dns', summary: `${host} does not resolve: ${message}`, fix: `Check the host name ${host} (and, when testing before DNS points at it, the --resolve entries)` };
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { code: 'connect', summary: `${host} cannot be reached: ${message}`, fix: `Check that this server may reach ${host} on port 443 (a firewall or proxy on the way)` };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return { code: 'tls-untrusted', summary: `The certificate of ${host} is not trusted: ${message}`, fix: "Add the issuing CA to the profile's trusted CA certificates (only for a server that is not Microsoft's own)" };
  }
  return { code: 'connect', summary: `${host}: ${message}`, fix: `Check that this server may reach ${host}` };
}

function tokenFailureDiagnosis(error: unknown, target: GraphTarget): Diagnosis {
  const failure = asTokenFailure(error);
  const host = hostOf(target.authority);
  if (failure) {
    const answer = tokenAnswer(failure);
    const aadsts = failure.aadsts ?? (answer.messageText?.match(/^AADSTS\d+/)?.[0] ?? null);
    if (aadsts) return { ...explainAadsts(aadsts, target, answer.messageText ?? null), serverAnswer: answer };
    const network = explainNetwork((error as { cause?: unknown }).cause ?? error, host);
    if (network) return network;
    if (failure.status === null && /certificate|pem|private key/i.test(failure.message)) {
      return { code: 'bad-certificate', summary: `The profile's certificate cannot be used: ${failure.message}`, fix: 'Enter a PEM holding both the certificate and its private key (unencrypted), as exported for the app registration' };
    }
    return {
      code: 'aad.token-failed',
      summary: `${host} issued no token: ${failure.message}`,
      fix: `Check the authority (${target.authority}) is the Microsoft identity platform of the tenant's cloud`,
      ...(failure.serverResponse || failure.status !== null ? { serverAnswer: answer } : {}),
    };
  }
  return explainNetwork(error, host) ?? { code: 'internal', summary: `Unexpected error: ${(error as Error)?.message ?? String(error)}`, fix: 'This is a bug in Liaison; please report it with this text' };
}

interface Run {
  target: GraphTarget;
  session: GraphSession;
  token?: GraphSessionToken;
  claims?: Record<string, unknown>;
}

async function tokenStep(run: Run): Promise<StepOutcome> {
  const { target } = run;
  const request = { method: 'POST', url: tokenEndpoint(target) };
  try {
    const token = await run.session.token();
    run.token = token;
    run.claims = jwtClaims(token.accessToken);
    const minutes = Math.max(0, Math.round((token.expiresAt.getTime() - Date.now()) / 60_000));
    const tid = typeof run.claims.tid === 'string' ? run.claims.tid : target.tenantId;
    const details = [
      `expires: ${token.expiresAt.toISOString()} (in ${minutes} min)`,
      `roles: ${'roles' in run.claims || token.roles.length > 0 ? token.roles.join(', ') || '(none)' : '(no roles claim: no application permission is consented)'}`,
    ];
    for (const claim of ['aud', 'iss', 'appid']) if (typeof run.claims[claim] === 'string') details.push(`${claim}: ${String(run.claims[claim])}`);
    return {
      status: 'success',
      summary: `${hostOf(target.authority)} issued a token for app ${target.clientId} in tenant ${tid} with ${credentialName(target)}, valid for ${minutes} min`,
      request,
      details,
    };
  } catch (error) {
    return { status: 'failure', summary: '', request, diagnosis: tokenFailureDiagnosis(error, target) };
  }
}

// ---- step 2: Graph accepts the token; the roles ----

function graphBase(target: GraphTarget): string {
  return `${target.graphUrl.replace(/\/+$/, '')}/v1.0`;
}

function userPath(target: GraphTarget): string {
  return `users/${encodeURIComponent(target.email)}`;
}

function graphFailureDiagnosis(error: unknown, target: GraphTarget, what: string, roles: readonly string[]): Diagnosis {
  const failure = asGraphFailure(error);
  if (error instanceof GraphProtocolError) {
    const excerpt = error.excerpt;
    return {
      code: 'graph.not-graph',
      summary: `${hostOf(target.graphUrl)} answered with something that is not Microsoft Graph's: ${error.message}`,
      fix: `Check the Graph URL (${target.graphUrl}): it is Microsoft Graph's base URL, https://graph.microsoft.com for the global cloud, not a proxy's or a sign-in page`,
      ...(typeof excerpt === 'string' && excerpt ? { serverAnswer: { excerpt } } : {}),
    };
  }
  if (!failure) {
    return explainNetwork(error, hostOf(target.graphUrl)) ?? { code: 'internal', summary: `Unexpected error: ${(error as Error)?.message ?? String(error)}`, fix: 'This is a bug in Liaison; please report it with this text' };
  }
  const answer = graphAnswer(failure);
  const code = answer.responseCode ?? failure.code;
  const message = answer.messageText ?? failure.message;
  const context = contextOf(target);
  if (failure.status === 401) {
    return {
      code: 'graph.token-rejected',
      summary: `Microsoft Graph at ${hostOf(target.graphUrl)} refused the token, also a new one (${code}: ${message})`,
      fix: `${explainInvalidToken(context).fix} The authority (${target.authority}) and the Graph URL (${target.graphUrl}) must be of one cloud.`,
      serverAnswer: answer,
    };
  }
  if (failure.status === 403 && /AccessPolicy|\[RAOP\]/i.test(message)) {
    return {
      code: 'graph.access-policy',
      summary: `An application access policy keeps app ${target.clientId} out of ${target.email}: Exchange Online answered ${code} (${message})`,
      fix: `${accessPolicyFix(context)} A policy change can take up to an hour to apply.`,
      serverAnswer: answer,
    };
  }
  if (failure.status === 403) {
    const holds = roles.includes('Mail.ReadWrite');
    return {
      code: 'graph.access-denied',
      summary: `Exchange Online denied app ${target.clientId} access to ${what} of ${target.email} (${code}: ${message})`,
      fix: holds
        ? `The token holds Mail.ReadWrite, so something scopes the app away from this mailbox: RBAC for Applications (Test-ServicePrincipalAuthorization -Identity ${target.clientId} -Resource ${target.email}) ` +
          `or an application access policy (Test-ApplicationAccessPolicy -Identity ${target.email} -AppId ${target.clientId}); a permission granted minutes ago may still be propagating`
        : permissionFix(context, ['Mail.ReadWrite']),
      serverAnswer: answer,
    };
  }
  if (failure.status === 404 && /MailboxNotEnabledForRESTAPI|MailboxNotSupportedForRESTAPI/i.test(code)) {
    const explained = explainMailboxNotEnabled(context);
    return { code: 'graph.MailboxNotEnabledForRESTAPI', summary: explained.summary, ...(explained.fix ? { fix: explained.fix } : {}), serverAnswer: answer };
  }
  if (failure.status === 404) {
    const explained = explainNoMailbox(context);
    return { code: 'graph.no-such-mailbox', summary: `${explained.summary} (${code}: ${message})`, ...(explained.fix ? { fix: explained.fix } : {}), serverAnswer: answer };
  }
  if (failure.status === 429 || failure.status === 503) {
    return {
      code: 'graph.throttled',
      summary: `Microsoft Graph is throttling the app (HTTP ${failure.status} ${code}) while reading ${what}`,
      fix: `Nothing is wrong with the settings: run the test again ${failure.retryAfterMs !== null ? `after ${Math.ceil(failure.retryAfterMs / 1000)} s` : 'in a minute'}`,
      serverAnswer: answer,
    };
  }
  return {
    code: `graph.${code || failure.status}`,
    summary: `Microsoft Graph answered HTTP ${failure.status} ${code}: ${message}`,
    fix: 'See the server\'s answer below; the request-id identifies it for Microsoft support',
    serverAnswer: answer,
  };
}

/** What the profile's directions need that the roles lack, in order. */
export function missingPermissions(roles: readonly string[], directions: GraphTarget['directions']): string[] {
  const held = new Set(roles);
  const needed = [...new Set(directions.flatMap((d) => GRAPH_PERMISSIONS_NEEDED[d]))];
  return needed.filter((p) => !held.has(p));
}

function directionWords(directions: GraphTarget['directions']): string {
  return directions.map((d) => (d === 'incoming' ? 'track incoming mail' : 'send')).join(' and ') || 'synchronize';
}

async function graphStep(run: Run): Promise<StepOutcome> {
  const { target } = run;
  const path = `${userPath(target)}?$select=id,mail,userPrincipalName`;
  const request = { method: 'GET', url: `${graphBase(target)}/${path}` };
  const details: string[] = [];
  let accepted: string;
  try {
    const user = (await run.session.get(path)) as { id?: unknown; userPrincipalName?: unknown; mail?: unknown } | null;
    accepted = `Graph accepted the token: ${target.email} is user ${String(user?.userPrincipalName ?? user?.mail ?? target.email)} (${String(user?.id ?? '?')})`;
  } catch (error) {
    const failure = asGraphFailure(error);
    // Graph authenticated the token when it answers 403 or 404: reading users needs User.Read.All, which Liaison does
    // not ask for, and a missing user is step 3's to explain. Anything else (401, the network) fails here.
    if (failure && (failure.status === 403 || failure.status === 404)) {
      accepted = `Graph accepted the token (it answered ${failure.status} ${failure.code || ''} for the user, which step 3 looks at)`.replace(/ \)/, ')');
      details.push(`GET ${path}: HTTP ${failure.status} ${failure.code}: ${failure.message}`);
    } else {
      return { status: 'failure', summary: '', request, diagnosis: graphFailureDiagnosis(error, target, 'the user', run.token?.roles ?? []) };
    }
  }
  const roles = run.token?.roles ?? [];
  const claims = run.claims ?? {};
  details.push(`roles: ${roles.join(', ') || '(none)'}`);
  const needs = [...new Set(target.directions.flatMap((d) => GRAPH_PERMISSIONS_NEEDED[d]))];
  details.push(`needed to ${directionWords(target.directions)}: ${needs.join(', ')}`);
  if (roles.length === 0 && !('roles' in claims && Array.isArray(claims.roles) && claims.roles.length > 0)) {
    return {
      status: 'failure',
      summary: '',
      request,
      details,
      diagnosis: {
        code: 'graph.consent-missing',
        summary: `${accepted}; but the token holds no application permission (no roles claim): admin consent is not granted for app ${target.clientId}`,
        fix: permissionFix(contextOf(target), needs),
      },
    };
  }
  const missing = missingPermissions(roles, target.directions);
  if (missing.length > 0) {
    const why = missing.map((p) => `${p} (${p === 'Mail.Send' ? 'to send' : target.directions.includes('incoming') ? 'to move failed mail to Undeliverable and create folders' : 'to create the draft it sends'})`);
    return {
      status: 'failure',
      summary: '',
      request,
      details,
      diagnosis: {
        code: 'graph.permission-missing',
        summary: `${accepted}; but app ${target.clientId} lacks ${missing.join(' and ')}, which Liaison needs to ${directionWords(target.directions)}: ${why.join(', ')}`,
        fix: permissionFix(contextOf(target), missing),
      },
    };
  }
  return { status: 'success', summary: `${accepted}; the app holds ${needs.join(' and ')}, as Liaison needs to ${directionWords(target.directions)}`, request, details };
}

// ---- step 3: the mailbox ----

interface FolderAnswer {
  id?: string;
  displayName?: string;
  totalItemCount?: number;
  unreadItemCount?: number;
}

async function mailboxStep(run: Run, options: MailboxTestOptions | null): Promise<StepOutcome> {
  const { target } = run;
  const inboxPath = `${userPath(target)}/mailFolders/inbox?$select=id,displayName,totalItemCount,unreadItemCount`;
  let request = { method: 'GET', url: `${graphBase(target)}/${inboxPath}` };
  const details: string[] = [];
  try {
    const inbox = ((await run.session.get(inboxPath)) ?? {}) as FolderAnswer;
    let summary = `Opened the Inbox of ${target.email} as app ${target.clientId} (${inbox.totalItemCount ?? '?'} items, ${inbox.unreadItemCount ?? '?'} unread)`;
    if (target.directions.includes('outgoing')) {
      const sentPath = `${userPath(target)}/mailFolders/sentitems?$select=id,totalItemCount`;
      request = { method: 'GET', url: `${graphBase(target)}/${sentPath}` };
      const sent = ((await run.session.get(sentPath)) ?? {}) as FolderAnswer;
      summary += `; read Sent Items (${sent.totalItemCount ?? '?'} items) and holds Mail.Send, so it may send as ${target.email}`;
    }
    if (options?.createUndeliverable && target.directions.includes('incoming')) {
      request = { method: 'POST', url: `${graphBase(target)}/${userPath(target)}/mailFolders/inbox/childFolders` };
      summary += (await run.session.ensureUndeliverable()) ? '; created the folder Inbox/Undeliverable' : '; the folder Inbox/Undeliverable exists';
    }
    if (inbox.id) details.push(`Inbox id: ${inbox.id}`);
    return { status: 'success', summary, request, details };
  } catch (error) {
    const what = request.url.includes('sentitems') ? 'Sent Items' : request.method === 'POST' || request.url.includes('childFolders') ? 'the Inbox/Undeliverable folder' : 'the Inbox';
    return { status: 'failure', summary: '', request, diagnosis: graphFailureDiagnosis(error, target, what, run.token?.roles ?? []) };
  }
}

// ---- the run ----

function configurationProblem(target: GraphTarget): string | null {
  for (const [name, value] of [['authority', target.authority], ['Graph URL', target.graphUrl]] as const) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `the ${name} "${value}" is not a URL`;
    }
    if (url.protocol !== 'https:') return `the ${name} ${value} is not https; Liaison sends secrets and tokens over TLS only`;
  }
  if (!target.clientSecret && !target.certificatePem) return 'the profile has neither a client secret nor a certificate';
  return null;
}

async function run(target: GraphTarget, options: MailboxTestOptions | null, emit: Emit, factory: (target: GraphTarget) => GraphSession): Promise<MailboxTestResult> {
  const startedAt = new Date();
  const started = performance.now();
  const steps: StepResult[] = [];
  const finish = (): MailboxTestResult => ({
    status: steps.every((s) => s.status === 'success') ? 'success' : 'failure',
    startedAt: startedAt.toISOString(),
    elapsedMs: Math.round(performance.now() - started),
    mailbox: target.email,
    steps,
  });
  const refuse = async (message: string, fix: string) => {
    steps.push(await runStep('token', emit, async () => ({ status: 'failure', summary: '', diagnosis: { code: 'bad-configuration', summary: message, fix } })));
    steps.push(skipped('graph', emit, 'Not run: the connection settings cannot be used'));
    steps.push(skipped('mailbox', emit, 'Not run: the connection settings cannot be used'));
    return finish();
  };
  const problem = configurationProblem(target);
  if (problem) return refuse(problem, 'Correct the profile: the authority and the Graph URL are https URLs, and a client secret or a certificate is given');
  let session: GraphSession;
  try {
    session = factory(target);
  } catch (error) {
    // A resolve entry, trusted CA or certificate that cannot be read: nothing can be tried, and the step says which setting.
    const message = (error as Error).message;
    return refuse(message, /--resolve/.test(message) ? 'Correct the --resolve entry (host:port:address[:port])' : /CA|CERTIFICATE/i.test(message) ? 'Correct the trusted CA certificate (PEM) or the client certificate (PEM with its private key)' : 'Correct the profile');
  }
  const state: Run = { target, session };
  try {
    const token = await runStep('token', emit, () => tokenStep(state));
    steps.push(token);
    if (token.status !== 'success') {
      steps.push(skipped('graph', emit, 'Not run: step 1 got no token'));
      steps.push(skipped('mailbox', emit, 'Not run: step 1 got no token'));
      return finish();
    }
    const graph = await runStep('graph', emit, () => graphStep(state));
    steps.push(graph);
    if (graph.status === 'success') steps.push(await runStep('mailbox', emit, () => mailboxStep(state, options)));
    else steps.push(skipped('mailbox', emit, graph.code === 'graph.permission-missing' || graph.code === 'graph.consent-missing' ? 'Not run: the app lacks permissions Liaison needs' : 'Not run: Microsoft Graph refused the token'));
    return finish();
  } finally {
    await session.close().catch(() => undefined);
  }
}

export function createGraphDiagnostics(options: GraphDiagnosticsOptions = {}): TargetDiagnostics<GraphTarget> {
  const factory = options.sessionFactory ?? defaultGraphSession;
  return {
    testConnection: (target: GraphTarget, onEvent?: Emit): Promise<ConnectionTestResult> => run(target, null, onEvent ?? (() => undefined), factory),
    testMailbox: (target: GraphTarget, testOptions: MailboxTestOptions, onEvent?: Emit): Promise<MailboxTestResult> => run(target, testOptions, onEvent ?? (() => undefined), factory),
  };
}
