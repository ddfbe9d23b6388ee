/**
 * Finding a mailbox's EWS URL from its address, in the order Exchange clients use, and keeping a record of
 * every URL tried and what it answered so that an administrator can see exactly what happened.
 *
 * The order (ms-docs exchange-web-services/autodiscover-for-exchange.md and
 * how-to-generate-a-list-of-autodiscover-endpoints.md; MS-OXDISCO 3.1.5; PROTOCOL.md §1.1), for user@domain:
 *   1. https://<domain>/autodiscover/autodiscover.svc (SOAP), then …/autodiscover.xml (POX);
 *   2. https://autodiscover.<domain>/autodiscover/autodiscover.svc, then …/autodiscover.xml;
 *   3. the unauthenticated GET http://autodiscover.<domain>/autodiscover/autodiscover.xml: a 301/302 to an
 *      https Autodiscover URL is followed (the request is sent there, with credentials); nothing else is;
 *   4. DNS SRV _autodiscover._tcp.<domain>: records for port 443 only, lowest priority first, then highest weight
 *      (RFC 2782; "only use records that point to an SSL endpoint and that have the highest priority and weight"),
 *      each target host asked as in 1.
 * SCP (Active Directory) lookup is skipped: Liaison is not a domain member.
 *
 * SOAP first, POX as fallback, at each host. Microsoft recommends SOAP ("we recommend using the SOAP web
 * service", autodiscover-for-exchange.md) and exchangelib speaks only SOAP since 2022; POX is kept for Exchange
 * 2007 and for servers whose SOAP endpoint is broken or blocked by a proxy. The EWS Managed API instead runs the
 * whole SOAP search and then the whole POX search (ExchangeService.AutodiscoverUrl: "Will try legacy service");
 * asking both at each host before moving on finds an answer with fewer requests to hosts that do not exist,
 * keeps the record in host order, and lets a host that answers POX only win before a later host is tried.
 * A host that cannot be reached at all (DNS, refused, TLS) is not asked a second time for POX.
 *
 * Rules (handling-autodiscover-error-messages.md, redirecturl-pox.md, PROTOCOL.md §1.3–1.4):
 *   - at most 10 redirects (address, URL and HTTP redirects together); the 11th is refused;
 *   - no URL is asked twice about the same address;
 *   - a redirect URL must be https; an HTTP-redirect Location must also point at an Autodiscover path;
 *   - credentials are never sent over plain http (the probe carries none), nor to a target of a redirect that
 *     failed these checks (it is not contacted at all);
 *   - an address redirect to the address just asked about, or to one already asked about (a loop), is refused;
 *     an accepted one starts again from step 1 with the new address;
 *   - a 401 is recorded with its WWW-Authenticate and the search goes on ("you could get this on one URL only
 *     to have the next one accept your credentials"); any other non-200 status: the next URL;
 *   - an answer with an EWS URL that is not https is not used (credentials would travel in clear).
 */
import { resolveSrv as dnsResolveSrv } from 'node:dns/promises';
import { type Credentials, type HttpResponse, type HttpTransport, TransportError } from '../transport/types.js';
import { type AutodiscoverAnswer, AutodiscoverReadError, type AutodiscoverSettings } from './answer.js';
import { buildPoxRequest, poxRequestHeaders, readPoxResponse } from './pox.js';
import { buildGetUserSettingsRequest, readGetUserSettingsResponse, soapRequestHeaders } from './soap.js';

export const MAX_REDIRECTS = 10;
/**
 * The largest Autodiscover answer read, bytes: an answer is a few kilobytes (one user's settings); the readers
 * (pox.ts, soap.ts) parse at most this much too.
 */
export const AUTODISCOVER_MAX_BYTES = 1024 * 1024;

/** Top-level names reserved for tests and documentation (RFC 2606, RFC 6761): never in the public DNS. */
const RESERVED_TLD = /\.(test|example|invalid|localhost)\.?$/i;

export type AutodiscoverMethod = 'soap' | 'pox';
export type AttemptMethod = AutodiscoverMethod | 'http-redirect' | 'srv';
export type AttemptOutcome = 'found' | 'redirect-address' | 'redirect-url' | 'error' | 'http-status' | 'unreachable' | 'skipped';

export interface AutodiscoverAttempt {
  /** The URL asked (for 'srv', the DNS name looked up). */
  url: string;
  method: AttemptMethod;
  /** The address the request asked about. */
  address: string;
  outcome: AttemptOutcome;
  httpStatus?: number;
  /** The answer's headers that explain it: WWW-Authenticate (each offer, joined with ", "), Location, … */
  headers: Record<string, string>;
  /** What happened, in words, with the server's codes and texts. */
  detail: string;
  /** Autodiscover's own error code (InvalidUser, 500, …), a transport error kind ('dns', 'tls', …). */
  code?: string;
  /** For redirects: where to (for 'srv', the hosts of the usable records, in order). */
  target?: string;
  /** For 'unreachable': the transport's details (host, port, TLS reason). */
  transport?: TransportError['details'] & { kind: TransportError['kind'] };
  elapsedMs?: number;
}

export interface AutodiscoverResult {
  ewsUrl: string;
  method: AutodiscoverMethod;
  /** The Autodiscover URL that gave the answer. */
  foundAt: string;
  /** The mailbox's address after address redirects (AutoDiscoverSMTPAddress when the server says). */
  smtpAddress: string;
  displayName?: string;
  serverVersion?: string;
  serverBuild?: string;
  ewsSupportedSchemas?: string[];
  internalEwsUrl?: string;
  externalEwsUrl?: string;
  /** GroupingInformation: with the EWS URL, which mailboxes share a Mailbox server for notification affinity. */
  groupingInformation?: string;
  /** Every URL tried and what it answered, the successful one last. */
  attempts: AutodiscoverAttempt[];
}

export class AutodiscoverError extends Error {
  constructor(
    readonly email: string,
    readonly attempts: AutodiscoverAttempt[],
    readonly reason: 'not-found' | 'aborted',
    message?: string,
  ) {
    super(message ?? `Autodiscover found no EWS URL for ${email}: ${attempts.length} attempt(s), ${summarize(attempts)}`);
    this.name = 'AutodiscoverError';
  }
}

function summarize(attempts: AutodiscoverAttempt[]): string {
  const counts = new Map<string, number>();
  for (const a of attempts) {
    const key = a.outcome === 'http-status' ? `HTTP ${a.httpStatus}` : a.outcome;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ');
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DiscoverOptions {
  transport: HttpTransport;
  credentials: Credentials;
  /** DNS SRV lookup (default node:dns/promises resolveSrv); tests inject one. */
  resolveSrv?: (name: string) => Promise<SrvRecord[]>;
  signal?: AbortSignal;
  /** Step 3, the plain-http redirect probe (default on). */
  httpRedirectProbe?: boolean;
  /** Follow the plain-http probe's redirect to hosts outside the mailbox's domain too (default off). */
  httpRedirectAnyHost?: boolean;
  /** Step 4, the SRV lookup (default on). */
  srvLookup?: boolean;
}

interface Endpoint {
  url: string;
  method: AutodiscoverMethod;
}

type Step =
  | { kind: 'host'; host: string; via?: string }
  | { kind: 'http-redirect'; url: string }
  | { kind: 'srv'; name: string };

const RECORDED_HEADERS = ['www-authenticate', 'location', 'content-type', 'x-soap-enabled', 'server', 'request-id', 'x-feserver', 'x-beserver', 'x-diaginfo', 'retry-after', 'x-ms-diagnostics'];
const HOST_LEVEL_FAILURES = new Set<TransportError['kind']>(['dns', 'refused', 'connect-timeout', 'tls']);
const AUTODISCOVER_PATH = /^\/autodiscover\/([^/]+\/)*autodiscover\.(xml|svc)$/i;

function recordedHeaders(response: HttpResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RECORDED_HEADERS) {
    const list = response.headerLists[name];
    const value = list && list.length > 0 ? list.join(', ') : response.headers[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

/** The URL as compared for "tried already": scheme and host lower-cased, default port dropped. */
function normalizeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.toString().toLowerCase();
  } catch {
    return url.trim().toLowerCase();
  }
}

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const domain = address.slice(at + 1).trim().toLowerCase();
  return /^[a-z0-9.-]+$/.test(domain) && !domain.startsWith('.') && !domain.endsWith('.') ? domain : null;
}

function isHttps(url: string): boolean {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

function methodForUrl(url: string): AutodiscoverMethod {
  try {
    return new URL(url).pathname.toLowerCase().endsWith('.svc') ? 'soap' : 'pox';
  } catch {
    return 'pox';
  }
}

function offers(headers: Record<string, string>): string {
  const value = headers['www-authenticate'];
  if (!value) return 'no WWW-Authenticate header';
  const schemes = value
    .split(',')
    .map((s) => s.trim().split(/\s+/)[0] ?? '')
    .filter((s) => /^[A-Za-z][\w-]*$/.test(s) && !s.includes('='));
  return `offers ${[...new Set(schemes)].join(', ') || value}`;
}

function describeAnswer(answer: AutodiscoverAnswer): string {
  switch (answer.kind) {
    case 'settings':
      return `EWS URL ${answer.ewsUrl ?? '(none)'}${answer.smtpAddress ? ` for ${answer.smtpAddress}` : ''}${answer.serverVersion ? `, server ${answer.serverVersion}` : ''}`;
    case 'redirect-address':
      return `redirect to the address ${answer.target}`;
    case 'redirect-url':
      return `redirect to the URL ${answer.target}`;
    case 'error':
      return `${answer.level === 'fault' ? 'SOAP fault' : answer.level === 'pox' ? 'POX error' : answer.level === 'user' ? 'error for the user' : 'error'} ${answer.code}${answer.message ? `: ${answer.message}` : ''}`;
  }
}

export async function discoverEwsUrl(email: string, options: DiscoverOptions): Promise<AutodiscoverResult> {
  const { transport, credentials, signal } = options;
  const resolveSrv = options.resolveSrv ?? ((name: string) => dnsResolveSrv(name));
  const attempts: AutodiscoverAttempt[] = [];
  const asked = new Set<string>();
  const addressesAsked = new Set<string>();
  let redirects = 0;
  let address = email.trim();

  const record = (attempt: AutodiscoverAttempt): AutodiscoverAttempt => {
    attempts.push(attempt);
    return attempt;
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new AutodiscoverError(email, attempts, 'aborted', `Autodiscover for ${email} was cancelled after ${attempts.length} attempt(s)`);
  };
  const key = (method: AttemptMethod, url: string, who: string) => `${method} ${normalizeUrl(url)} ${who.toLowerCase()}`;

  /** May one more redirect be followed? Records the refusal when not. */
  const redirectAllowed = (url: string, method: AttemptMethod, target: string): boolean => {
    if (redirects < MAX_REDIRECTS) return true;
    record({ url: target, method, address, outcome: 'skipped', headers: {}, detail: `not followed: more than ${MAX_REDIRECTS} redirects (the redirect came from ${url})`, code: 'too-many-redirects' });
    return false;
  };

  /** Sends one request and turns the answer into an attempt; returns the answer when there is one to act on. */
  async function ask(endpoint: Endpoint, who: string, via?: string): Promise<{ answer: AutodiscoverAnswer | null; hostDown: boolean }> {
    checkAbort();
    const k = key(endpoint.method, endpoint.url, who);
    if (asked.has(k)) {
      record({ url: endpoint.url, method: endpoint.method, address: who, outcome: 'skipped', headers: {}, detail: `already asked about ${who}`, code: 'already-tried' });
      return { answer: null, hostDown: false };
    }
    asked.add(k);
    if (!isHttps(endpoint.url)) {
      // Never reached through the rules above; kept so that no path can send credentials in clear.
      record({ url: endpoint.url, method: endpoint.method, address: who, outcome: 'skipped', headers: {}, detail: 'not an https URL: credentials are never sent over plain http', code: 'insecure-url' });
      return { answer: null, hostDown: false };
    }
    const body = endpoint.method === 'soap' ? buildGetUserSettingsRequest(who, endpoint.url) : buildPoxRequest(who);
    const headers = endpoint.method === 'soap' ? soapRequestHeaders() : poxRequestHeaders();
    const prefix = via ? `${via}; ` : '';
    let response: HttpResponse;
    try {
      response = await transport.request({ method: 'POST', url: endpoint.url, headers, body, credentials, maxResponseBytes: AUTODISCOVER_MAX_BYTES, ...(signal ? { signal } : {}) });
    } catch (error) {
      checkAbort();
      if (error instanceof TransportError) {
        record({
          url: endpoint.url,
          method: endpoint.method,
          address: who,
          outcome: 'unreachable',
          headers: {},
          detail: `${prefix}${error.kind}: ${error.message}`,
          code: error.kind,
          transport: { kind: error.kind, ...error.details },
        });
        return { answer: null, hostDown: HOST_LEVEL_FAILURES.has(error.kind) };
      }
      throw error;
    }
    const recorded = recordedHeaders(response);
    const base = { url: endpoint.url, method: endpoint.method, address: who, httpStatus: response.status, headers: recorded, elapsedMs: response.elapsedMs };
    if (response.status !== 200) {
      const text = response.status === 401 ? `401 Unauthorized: ${offers(recorded)}` : `HTTP ${response.status}${recorded.location ? ` to ${recorded.location} (not followed: Autodiscover POSTs are not redirected by HTTP)` : ''}`;
      record({ ...base, outcome: 'http-status', detail: `${prefix}${text}` });
      return { answer: null, hostDown: false };
    }
    let answer: AutodiscoverAnswer;
    try {
      answer = endpoint.method === 'soap' ? readGetUserSettingsResponse(response.body) : readPoxResponse(response.body);
    } catch (error) {
      if (!(error instanceof AutodiscoverReadError)) throw error;
      record({ ...base, outcome: 'error', detail: `${prefix}HTTP 200 but ${error.message}`, code: 'unreadable' });
      return { answer: null, hostDown: false };
    }
    if (answer.kind === 'settings' && (!answer.ewsUrl || !isHttps(answer.ewsUrl))) {
      const why = answer.ewsUrl ? `the EWS URL ${answer.ewsUrl} is not https: credentials would travel in clear` : 'the answer has no EWS URL (no ExternalEwsUrl or InternalEwsUrl, no EXPR or EXCH EwsUrl)';
      record({ ...base, outcome: 'error', detail: `${prefix}${why}`, code: answer.ewsUrl ? 'insecure-ews-url' : 'no-ews-url' });
      return { answer: null, hostDown: false };
    }
    const outcome: AttemptOutcome = answer.kind === 'settings' ? 'found' : answer.kind;
    record({
      ...base,
      outcome,
      detail: `${prefix}${describeAnswer(answer)}`,
      ...(answer.kind === 'error' ? { code: answer.code } : {}),
      ...(answer.kind === 'redirect-address' || answer.kind === 'redirect-url' ? { target: answer.target } : {}),
    });
    return { answer, hostDown: false };
  }

  /**
   * Asks one endpoint and follows URL redirects from it. Returns the settings found, an address redirect to act
   * on, or null (this endpoint gave nothing: go on with the next).
   */
  async function follow(first: Endpoint, via?: string): Promise<{ settings: AutodiscoverSettings; endpoint: Endpoint } | { redirectAddress: string } | { hostDown: true } | null> {
    let endpoint: Endpoint = first;
    let note = via;
    for (;;) {
      const { answer, hostDown } = await ask(endpoint, address, note);
      if (!answer) return hostDown && endpoint === first ? { hostDown: true } : null;
      if (answer.kind === 'settings') return { settings: answer, endpoint };
      if (answer.kind === 'error') return null;
      if (answer.kind === 'redirect-address') return { redirectAddress: answer.target };
      // redirect-url
      const target = answer.target;
      if (!isHttps(target)) {
        record({ url: target, method: methodForUrl(target), address, outcome: 'skipped', headers: {}, detail: `not followed: the redirect from ${endpoint.url} is not an https URL`, code: 'insecure-redirect' });
        return null;
      }
      const next: Endpoint = { url: target, method: methodForUrl(target) };
      if (asked.has(key(next.method, next.url, address))) {
        record({ url: target, method: next.method, address, outcome: 'skipped', headers: {}, detail: `not followed: the redirect from ${endpoint.url} names a URL already asked about ${address}`, code: 'already-tried' });
        return null;
      }
      if (!redirectAllowed(endpoint.url, next.method, target)) return null;
      redirects += 1;
      note = `redirect ${redirects} from ${endpoint.url}`;
      endpoint = next;
    }
  }

  type Found = { settings: AutodiscoverSettings; endpoint: Endpoint };
  const result = (found: Found): AutodiscoverResult => {
    const s = found.settings;
    return {
      ewsUrl: s.ewsUrl!,
      method: found.endpoint.method,
      foundAt: found.endpoint.url,
      smtpAddress: s.smtpAddress ?? address,
      ...(s.displayName ? { displayName: s.displayName } : {}),
      ...(s.serverVersion ? { serverVersion: s.serverVersion } : {}),
      ...(s.serverBuild ? { serverBuild: s.serverBuild } : {}),
      ...(s.ewsSupportedSchemas ? { ewsSupportedSchemas: s.ewsSupportedSchemas } : {}),
      ...(s.internalEwsUrl ? { internalEwsUrl: s.internalEwsUrl } : {}),
      ...(s.externalEwsUrl ? { externalEwsUrl: s.externalEwsUrl } : {}),
      ...(s.groupingInformation ? { groupingInformation: s.groupingInformation } : {}),
      attempts,
    };
  };

  /** Handles an address redirect: true when accepted (start again with the new address). */
  const acceptAddressRedirect = (from: string, target: string): boolean => {
    const t = target.trim();
    if (!domainOf(t)) {
      record({ url: from, method: methodForUrl(from), address, outcome: 'skipped', headers: {}, target: t, detail: `address redirect not followed: "${t}" is not an email address`, code: 'invalid-address' });
      return false;
    }
    if (t.toLowerCase() === address.toLowerCase()) {
      record({ url: from, method: methodForUrl(from), address, outcome: 'skipped', headers: {}, target: t, detail: `address redirect not followed: it names the address just asked about (${t}); the URL is treated as invalid`, code: 'same-address' });
      return false;
    }
    if (addressesAsked.has(t.toLowerCase())) {
      record({ url: from, method: methodForUrl(from), address, outcome: 'skipped', headers: {}, target: t, detail: `address redirect not followed: ${t} was asked about already (a redirect loop)`, code: 'address-loop' });
      return false;
    }
    if (!redirectAllowed(from, methodForUrl(from), t)) return false;
    redirects += 1;
    address = t;
    return true;
  };

  for (;;) {
    checkAbort();
    const domain = domainOf(address);
    if (!domain) throw new AutodiscoverError(email, attempts, 'not-found', `Autodiscover cannot start: "${address}" is not an email address`);
    addressesAsked.add(address.toLowerCase());
    const steps: Step[] = [{ kind: 'host', host: domain }, { kind: 'host', host: `autodiscover.${domain}` }];
    if (options.httpRedirectProbe !== false) steps.push({ kind: 'http-redirect', url: `http://autodiscover.${domain}/autodiscover/autodiscover.xml` });
    if (options.srvLookup !== false) steps.push({ kind: 'srv', name: `_autodiscover._tcp.${domain}` });

    let restart = false;
    const tryEndpoints = async (endpoints: Endpoint[], via?: string): Promise<Found | 'restart' | null> => {
      for (const endpoint of endpoints) {
        const outcome = await follow(endpoint, via);
        if (!outcome) continue;
        if ('settings' in outcome) return outcome;
        if ('hostDown' in outcome) {
          for (const rest of endpoints.slice(endpoints.indexOf(endpoint) + 1)) {
            record({ url: rest.url, method: rest.method, address, outcome: 'skipped', headers: {}, detail: `not tried: ${new URL(endpoint.url).host} could not be reached (see the attempt before)`, code: 'host-unreachable' });
            asked.add(key(rest.method, rest.url, address));
          }
          return null;
        }
        if (acceptAddressRedirect(endpoint.url, outcome.redirectAddress)) return 'restart';
      }
      return null;
    };

    for (const step of steps) {
      let found: Found | 'restart' | null = null;
      if (step.kind === 'host') {
        const base = `https://${step.host}/autodiscover/autodiscover`;
        found = await tryEndpoints([{ url: `${base}.svc`, method: 'soap' }, { url: `${base}.xml`, method: 'pox' }], step.via);
      } else if (step.kind === 'http-redirect') {
        const target = await probe(step.url);
        if (target) found = await tryEndpoints([{ url: target, method: methodForUrl(target) }], `redirect ${redirects} from ${step.url}`);
      } else {
        const hosts = await srvHosts(step.name);
        for (const host of hosts) {
          const base = `https://${host}/autodiscover/autodiscover`;
          found = await tryEndpoints([{ url: `${base}.svc`, method: 'soap' }, { url: `${base}.xml`, method: 'pox' }], `from SRV ${step.name}`);
          if (found) break;
        }
      }
      if (found === 'restart') {
        restart = true;
        break;
      }
      if (found) return result(found);
    }
    if (!restart) throw new AutodiscoverError(email, attempts, 'not-found');
  }

  /** Step 3. Returns the https Autodiscover URL to POST to, counted as a redirect, or null. */
  async function probe(url: string): Promise<string | null> {
    checkAbort();
    const k = key('http-redirect', url, address);
    if (asked.has(k)) return null;
    asked.add(k);
    let response: HttpResponse;
    try {
      // No credentials: this is plain http (autodiscover-for-exchange.md: "Client applications should not
      // authenticate or send data to a non-SSL endpoint").
      response = await transport.request({ method: 'GET', url, credentials: null, maxResponseBytes: AUTODISCOVER_MAX_BYTES, ...(signal ? { signal } : {}) });
    } catch (error) {
      checkAbort();
      if (!(error instanceof TransportError)) throw error;
      record({ url, method: 'http-redirect', address, outcome: 'unreachable', headers: {}, detail: `${error.kind}: ${error.message}`, code: error.kind, transport: { kind: error.kind, ...error.details } });
      return null;
    }
    const headers = recordedHeaders(response);
    const base = { url, method: 'http-redirect' as const, address, httpStatus: response.status, headers, elapsedMs: response.elapsedMs };
    const location = headers.location;
    if (![301, 302, 307, 308].includes(response.status) || !location) {
      record({ ...base, outcome: 'http-status', detail: `HTTP ${response.status}: no redirect to follow` });
      return null;
    }
    let target: URL;
    try {
      target = new URL(location, url);
    } catch {
      record({ ...base, outcome: 'redirect-url', target: location, detail: `HTTP ${response.status} to "${location}", which is not a URL: not followed` });
      return null;
    }
    const href = target.toString();
    record({ ...base, outcome: 'redirect-url', target: href, detail: `HTTP ${response.status} to ${href} (an unauthenticated answer over plain http)` });
    if (target.protocol !== 'https:') {
      record({ url: href, method: methodForUrl(href), address, outcome: 'skipped', headers: {}, detail: `not followed: the HTTP redirect from ${url} is not to an https URL, and credentials are never sent over plain http`, code: 'insecure-redirect' });
      return null;
    }
    if (!AUTODISCOVER_PATH.test(target.pathname)) {
      // What the EWS Managed API checks before it trusts a redirect it got in clear (TryGetRedirectionResponse).
      record({ url: href, method: methodForUrl(href), address, outcome: 'skipped', headers: {}, detail: `not followed: the HTTP redirect from ${url} does not point at an Autodiscover endpoint (/autodiscover/autodiscover.xml or .svc)`, code: 'not-autodiscover' });
      return null;
    }
    const host = target.hostname.toLowerCase();
    const domain = domainOf(address);
    if (options.httpRedirectAnyHost !== true && host !== domain && !host.endsWith(`.${domain}`)) {
      // Anyone on the path of a plain-http request can answer it: the service account's password goes only to
      // hosts of the mailbox's own domain (MS-OXDISCO has clients ask their user before following this redirect).
      record({
        url: href,
        method: methodForUrl(href),
        address,
        outcome: 'skipped',
        headers: {},
        detail: `not followed: the HTTP redirect from ${url} leads out of ${domain}, to ${host}, and an unauthenticated answer over plain http does not decide where the password goes`,
        code: 'foreign-redirect',
      });
      return null;
    }
    if (!redirectAllowed(url, methodForUrl(href), href)) return null;
    redirects += 1;
    return href;
  }

  /** Step 4. The target hosts of the port-443 SRV records, best first. */
  async function srvHosts(name: string): Promise<string[]> {
    checkAbort();
    const k = key('srv', name, address);
    if (asked.has(k)) return [];
    asked.add(k);
    const reserved = RESERVED_TLD.exec(name);
    if (reserved && !options.resolveSrv) {
      // RFC 2606 / RFC 6761 names are never in the public DNS: asking would only wait for a resolver's answer.
      record({ url: name, method: 'srv', address, outcome: 'skipped', headers: {}, detail: `not looked up: .${reserved[1]} is reserved (RFC 2606), no DNS holds it` });
      return [];
    }
    let records: SrvRecord[];
    try {
      records = await resolveSrv(name);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'error';
      record({ url: name, method: 'srv', address, outcome: 'unreachable', headers: {}, detail: `DNS SRV lookup failed: ${code}${(error as Error).message ? ` (${(error as Error).message})` : ''}`, code });
      return [];
    }
    const usable = records.filter((r) => r.port === 443).sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    const ignored = records.filter((r) => r.port !== 443);
    const list = (rs: SrvRecord[]) => rs.map((r) => `${r.name}:${r.port} (priority ${r.priority}, weight ${r.weight})`).join(', ');
    const detail =
      records.length === 0
        ? 'no SRV records'
        : `${usable.length > 0 ? `port-443 records, in the order tried: ${list(usable)}` : 'no record for port 443'}${ignored.length > 0 ? `; ignored (not port 443): ${list(ignored)}` : ''}`;
    // Records that point elsewhere are a redirect to those hosts (not counted as one: no server sent it).
    const hosts = [...new Set(usable.map((r) => r.name.replace(/\.$/, '').toLowerCase()).filter(Boolean))];
    record({ url: name, method: 'srv', address, outcome: hosts.length > 0 ? 'redirect-url' : 'error', headers: {}, detail, ...(hosts.length > 0 ? { target: hosts.join(', ') } : {}) });
    return hosts;
  }
}
