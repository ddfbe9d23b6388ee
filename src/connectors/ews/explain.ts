/**
 * Turning what went wrong with Exchange into what an administrator reads: the server's own answer and the likely
 * fix. The table of the seed's troubleshooting guide is the minimum; each diagnosis has a stable code so that the
 * console and tests can tell them apart without parsing prose. Diagnostics (Test Connection, the analyzer) and
 * the connector's error classification (the engine's alerts) both read from here, so they never disagree.
 */
import { EwsFaultError, EwsHttpError, EwsProtocolError, EwsResponseError } from './soap/errors.js';
import { TransportError, type AuthMethod } from './transport/types.js';
import { offeredSchemes } from './transport/authenticate.js';

export { offeredSchemes };

/** The server's side of a failure, as diagnostics show it (diagnostics/types.ts re-exports this one shape). */
export interface ServerAnswer {
  httpStatus?: number;
  /** The headers that explain the answer (WWW-Authenticate, Retry-After, X-…); names lower-cased. */
  headers?: Record<string, string>;
  /** The EWS ResponseCode or SOAP fault code, and the server's message text. */
  responseCode?: string;
  messageText?: string;
  /** The first part of the answer's body, when it helps (an HTML error page, an Autodiscover error). */
  excerpt?: string;
}

export interface Diagnosis {
  code: string;
  summary: string;
  serverAnswer?: ServerAnswer;
  fix?: string;
  details?: string[];
}

/** Headers worth showing from a failed answer: they explain it. */
const EXPLAINING_HEADERS = ['www-authenticate', 'retry-after', 'x-ms-diagnostics', 'x-owa-error', 'x-feserver', 'x-beserver', 'location', 'content-type', 'server'];

export function explainingHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of EXPLAINING_HEADERS) if (headers[name] !== undefined) out[name] = headers[name]!;
  return out;
}

const SCHEME_NAMES: Record<string, string> = { BASIC: 'Basic', NTLM: 'NTLM', NEGOTIATE: 'Negotiate', BEARER: 'Bearer', DIGEST: 'Digest', KERBEROS: 'Kerberos' };

/** A 401 from Exchange: which of "Basic is off", "wrong password" and "Extended Protection" it is. */
export function explain401(authenticate: readonly string[], method: AuthMethod, username: string, host: string): Diagnosis {
  const offered = offeredSchemes(authenticate);
  const names = [...offered].map((scheme) => SCHEME_NAMES[scheme] ?? scheme).join(', ') || 'no method';
  const offersNtlm = offered.has('NTLM') || offered.has('NEGOTIATE');
  const header = authenticate.length > 0 ? authenticate.join(', ') : '(none)';
  const details = [`WWW-Authenticate: ${header}`];
  if (method === 'basic' && !offered.has('BASIC')) {
    return {
      code: 'basic-auth-disabled',
      summary: `Basic authentication is not enabled in Exchange: ${host} answered 401 and offers ${names}, not Basic`,
      fix:
        'Enable Basic authentication on the EWS (and Autodiscover) virtual directory, e.g. ' +
        'Set-WebServicesVirtualDirectory -Identity "<server>\\EWS (Default Web Site)" -BasicAuthentication $true' +
        (offersNtlm ? ', or switch the profile to NTLM (authentication: ntlm), which this server offers' : ''),
      details,
    };
  }
  if (method === 'ntlm' && !offersNtlm) {
    return {
      code: 'ntlm-not-offered',
      summary: `${host} does not offer NTLM (it offers ${names})`,
      fix: offered.has('BASIC')
        ? 'Switch the profile to Basic authentication (authentication: basic), or enable Windows authentication (NTLM) on the EWS virtual directory'
        : 'Enable Windows authentication (NTLM) on the EWS virtual directory',
      details,
    };
  }
  if (method === 'ntlm') {
    return {
      code: 'ntlm-rejected',
      summary: `${host} refused the NTLM sign-in of ${username}: the user name or password is wrong, or Extended Protection rejected the channel binding`,
      fix:
        `Check the user name (DOMAIN\\user or user@domain) and the password of ${username}. Liaison sends NTLM channel binding for the certificate it sees; ` +
        'if a proxy or load balancer ends TLS in front of Exchange, Extended Protection refuses that binding: let TLS pass through to Exchange, or configure Extended Protection for the proxy',
      details,
    };
  }
  return {
    code: 'bad-credentials',
    summary: `${host} refused the user name or password of ${username} (401 with Basic offered)`,
    fix: `Check the service account's user name (in UPN form, user@domain) and password; make sure the account is not locked or its password expired`,
    details,
  };
}

const TLS_FIX = 'Install a certificate from a trusted CA on the server, or add the issuing CA to the profile (trustedCaPem / --ca-file). Liaison never turns verification off.';

export function explainTransportError(error: TransportError): Diagnosis {
  const { host, port, tls, url } = error.details;
  const where = host ? `${host}${port ? `:${port}` : ''}` : url;
  switch (error.kind) {
    case 'tls': {
      const details: string[] = [];
      if (tls?.subject) details.push(`certificate subject: ${tls.subject}`);
      if (tls?.issuer) details.push(`certificate issuer: ${tls.issuer}`);
      if (tls?.names?.length) details.push(`names on the certificate: ${tls.names.join(', ')}`);
      if (tls?.validFrom || tls?.validTo) details.push(`valid from ${tls.validFrom ?? '?'} to ${tls.validTo ?? '?'}`);
      const code = tls?.code ?? '';
      if (/ALTNAME|HOSTNAME_MISMATCH/i.test(code)) {
        return {
          code: 'tls-name-mismatch',
          summary: `The certificate of ${where} is not for ${host}: it carries ${tls?.names?.join(', ') || 'no names'}`,
          fix: `Use the host name the certificate is issued for, or install a certificate that names ${host}`,
          details,
        };
      }
      if (/EXPIRED|NOT_YET_VALID/i.test(code)) {
        return {
          code: 'tls-expired',
          summary: `The certificate of ${where} is ${/NOT_YET/i.test(code) ? 'not yet valid' : 'expired'} (valid from ${tls?.validFrom ?? '?'} to ${tls?.validTo ?? '?'})`,
          fix: 'Renew the server certificate (or check the clock of this machine)',
          details,
        };
      }
      return {
        code: 'tls-untrusted',
        summary: `The certificate of ${where} is not trusted: ${error.message}`,
        fix: TLS_FIX,
        details,
      };
    }
    case 'dns':
      return {
        code: 'dns',
        summary: `The host name ${host ?? url} could not be found in DNS`,
        fix: `Check the host name; test from this machine with nslookup ${host ?? ''}; to test before DNS points at the server use --resolve ${host ?? 'host'}:${port ?? 443}:<address>`,
      };
    case 'refused':
      return {
        code: 'connection-refused',
        summary: `Nothing accepts connections on ${where}`,
        fix: `Check that the server (or the reverse proxy) listens on port ${port ?? 443} and that firewalls let this machine through`,
      };
    case 'connect-timeout':
      return {
        code: 'connect-timeout',
        summary: `Connecting to ${where} timed out`,
        fix: `A firewall probably drops the connection: open port ${port ?? 443} from this machine to ${host ?? 'the server'}`,
      };
    case 'timeout':
      return { code: 'timeout', summary: `${where} did not answer in time`, fix: 'Check the server\'s load, or raise the profile\'s request timeout (at most 100 s)' };
    case 'reset':
      return { code: 'connection-reset', summary: `${where} closed the connection`, fix: 'Check the server and any proxy between; a TLS inspection device can cause this' };
    case 'insecure-url':
      return { code: 'insecure-url', summary: `${url} is not https`, fix: 'Exchange URLs must start with https://' };
    case 'too-large':
      return { code: 'answer-too-large', summary: `${where} sent an answer larger than Liaison accepts`, fix: 'Check what the server is; this is not what Exchange answers' };
    default:
      return { code: 'network', summary: `${where}: ${error.message}`, fix: 'Check the network path from this machine to the server' };
  }
}

const POWERSHELL_IMPERSONATION = (account: string) =>
  `New-ManagementRoleAssignment -Name "Liaison impersonation" -Role ApplicationImpersonation -User "${account}"`;

export function explainEwsError(error: EwsFaultError | EwsResponseError, context: { username: string; mailbox: string; host: string }): Diagnosis {
  const serverAnswer: ServerAnswer = {
    httpStatus: error.details.httpStatus,
    responseCode: error.responseCode,
    messageText: error.details.messageText,
  };
  const details = error.details.messageXmlText ? [`MessageXml: ${error.details.messageXmlText}`] : undefined;
  const base = { serverAnswer, ...(details ? { details } : {}) };
  switch (error.responseCode) {
    case 'ErrorImpersonateUserDenied':
    case 'ErrorImpersonationDenied':
      return {
        code: 'impersonation-denied',
        summary: `${context.username} may not impersonate ${context.mailbox}: it lacks the ApplicationImpersonation role`,
        fix: `In the Exchange Management Shell: ${POWERSHELL_IMPERSONATION(context.username)} (add -CustomRecipientWriteScope to limit it to the CRM's mailboxes)`,
        ...base,
      };
    case 'ErrorNonExistentMailbox':
    case 'ErrorMailRecipientNotFound':
      return {
        code: 'no-such-mailbox',
        summary: `${context.host} has no mailbox for ${context.mailbox}`,
        fix: `Check the address (the mailbox's primary SMTP address), and that the mailbox is on this Exchange organization; with Autodiscover off, check the profile's EWS URL points at the server that holds it`,
        ...base,
      };
    case 'ErrorMailboxMoveInProgress':
    case 'ErrorMailboxStoreUnavailable':
      return {
        code: 'mailbox-moved',
        summary: `${context.host} does not serve ${context.mailbox} now (${error.responseCode})`,
        fix: 'The mailbox moved or is moving: turn Autodiscover on so Liaison finds its server, or point the profile at the server that holds it',
        ...base,
      };
    case 'ErrorServerBusy':
      return {
        code: 'server-busy',
        summary: `${context.host} is throttling: ${error.details.messageText}`,
        fix: `Try again ${error.backOffMs !== null ? `after ${error.backOffMs} ms ` : ''}later; lower the profile's Maximum Concurrent Connections, or raise the service account's EWS throttling policy`,
        ...base,
      };
    case 'ErrorAccessDenied':
      return {
        code: 'access-denied',
        summary: `${context.host} denied access: ${error.details.messageText}`,
        fix: `Check the rights of ${context.username} on ${context.mailbox}`,
        ...base,
      };
    case 'ErrorInvalidServerVersion':
    case 'ErrorIncorrectSchemaVersion':
      return {
        code: 'server-version',
        summary: `${context.host} refused every EWS version Liaison speaks (${error.responseCode})`,
        fix: 'Liaison needs Exchange 2013 SP1 or later (or Exchange 2010 SP2 at the least)',
        ...base,
      };
    default:
      return {
        code: 'ews-error',
        summary: `${context.host} answered ${error.responseCode}: ${error.details.messageText}`,
        fix: 'See the server\'s answer; the Exchange documentation of this response code says what it means',
        ...base,
      };
  }
}

export function explainHttpError(error: EwsHttpError, context: { username: string; method: AuthMethod; host: string }): Diagnosis {
  const serverAnswer: ServerAnswer = {
    httpStatus: error.details.httpStatus,
    headers: explainingHeaders(error.details.headers),
    ...(error.details.bodyExcerpt ? { excerpt: error.details.bodyExcerpt } : {}),
  };
  if (error.details.htmlPage) {
    // A 2xx HTML page (soap/answer.ts): a reverse proxy's sign-in page, most often.
    return {
      code: 'html-page',
      summary: `${context.host} answered HTTP ${error.details.httpStatus}: ${error.details.reason}`,
      fix: 'The EWS URL reaches a web page, not Exchange Web Services. If a reverse proxy or gateway stands in front of Exchange, let /EWS/ and /autodiscover/ through without its own sign-in page (no forms pre-authentication for them), or set the EWS URL to a host that serves EWS.',
      serverAnswer,
    };
  }
  if (error.details.httpStatus === 401) {
    return { ...explain401(error.details.authenticate, context.method, context.username, context.host), serverAnswer };
  }
  if (error.details.httpStatus === 403) {
    return {
      code: 'forbidden',
      summary: `${context.host} answered 403 Forbidden`,
      fix: 'EWS may be blocked for this account or application (Set-CASMailbox -EWSEnabled, EWS application policies), or the virtual directory requires a client certificate',
      serverAnswer,
    };
  }
  if (error.details.httpStatus === 404) {
    return { code: 'not-found', summary: `${context.host} has no EWS at this URL (404)`, fix: 'The EWS URL ends in /EWS/Exchange.asmx; check the host and path', serverAnswer };
  }
  if (error.details.httpStatus === 503 || error.details.httpStatus === 502) {
    return { code: 'unavailable', summary: `${context.host} is unavailable (${error.details.httpStatus})`, fix: 'Try again later; check the Exchange services and any proxy in front of them', serverAnswer };
  }
  return { code: 'http-error', summary: `${context.host} answered HTTP ${error.details.httpStatus}: ${error.details.reason}`, fix: 'See the server\'s answer', serverAnswer };
}

/** Any error from a call, explained. */
export function explainError(error: unknown, context: { username: string; mailbox: string; host: string; method: AuthMethod }): Diagnosis {
  if (error instanceof TransportError) return explainTransportError(error);
  if (error instanceof EwsHttpError) return explainHttpError(error, context);
  if (error instanceof EwsFaultError || error instanceof EwsResponseError) return explainEwsError(error, context);
  if (error instanceof EwsProtocolError) {
    return {
      code: 'not-ews',
      summary: `${context.host} answered with something that is not a valid EWS answer: ${error.message}`,
      fix: 'Check that the URL is Exchange\'s EWS endpoint and not a proxy\'s or a login page',
      ...(error.excerpt ? { serverAnswer: { excerpt: error.excerpt } } : {}),
    };
  }
  return { code: 'internal', summary: `Unexpected error: ${(error as Error)?.message ?? String(error)}`, fix: 'This is a bug in Liaison; please report it with this text' };
}
