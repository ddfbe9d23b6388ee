/**
 * App-only access tokens for Microsoft Graph (OAuth 2.0 client credentials) from Azure AD, through MSAL's
 * confidential client: a client secret, or a certificate (MSAL signs the client assertion with its private key).
 *
 * MSAL keeps the token in its in-memory cache and asks for a new one only when the cached one is about to expire
 * (five minutes before), so `token()` is cheap to call before every request. Its HTTP goes through Liaison's own
 * transport (src/connectors/ews/transport/http.ts): the same TLS verification, the profile's CA certificates and
 * `--resolve` overrides as every other connection, so that the sandbox can stand in for login.microsoftonline.com.
 *
 * Tokens and secrets are never logged and never put in an error: MSAL's logger is left silent, and a failure
 * keeps Azure AD's error description (its AADSTS code, trace and correlation ids) and nothing of the request.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { AuthError, ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { createHttpTransport } from '../ews/transport/http.js';
import { type HttpTransport, TransportError } from '../ews/transport/types.js';
import { GraphTokenError, SERVER_RESPONSE_CHARS } from './errors.js';

export interface GraphTokenOptions {
  /** e.g. https://login.microsoftonline.com/<tenantId> (the profile's authority, or the default for the tenant). */
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** PEM with the private key and the certificate registered on the app. */
  certificatePem?: string;
  /** The Graph base URL (https://graph.microsoft.com): the scope is `<graphUrl>/.default`. */
  graphUrl: string;
  resolve: readonly string[];
  ca?: string | Buffer;
  /** Share a transport (the connector's); otherwise one of its own is made and closed by close(). */
  transport?: HttpTransport;
  timeoutMs?: number;
}

export interface GraphToken {
  accessToken: string;
  expiresAt: Date;
  /** The application permissions the token carries (its `roles` claim): Mail.ReadWrite, Mail.Send… */
  roles: string[];
}

/** The authority Azure AD serves a tenant from when the profile names none. */
export function defaultAuthority(tenantId: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}`;
}

/** The scope of an app-only token for a Graph base URL: `https://graph.microsoft.com/.default`. */
export function graphScope(graphUrl: string): string {
  return `${graphUrl.replace(/\/+$/, '')}/.default`;
}

/** The claims of a JWT's payload, read without verifying it (Graph verifies; Liaison only reads its roles). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The private key (PKCS#8 PEM, as MSAL wants it), the certificates and the SHA-256 thumbprint of a PEM. */
export function readCertificatePem(pem: string): { privateKey: string; certificates: string[]; thumbprintSha256: string; notAfter: string } {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const keyBlock = blocks.find((b) => b[1]!.includes('PRIVATE KEY'));
  const certBlocks = blocks.filter((b) => b[1] === 'CERTIFICATE').map((b) => b[0]);
  if (!keyBlock) throw new GraphTokenError('The client certificate PEM holds no private key ("-----BEGIN PRIVATE KEY-----"): it needs the key and the certificate.', null, null, null);
  if (certBlocks.length === 0) throw new GraphTokenError('The client certificate PEM holds no certificate ("-----BEGIN CERTIFICATE-----"): it needs the key and the certificate.', null, null, null);
  if (keyBlock[1]!.includes('ENCRYPTED')) throw new GraphTokenError('The private key of the client certificate is encrypted; give it without a passphrase.', null, null, null);
  let privateKey: string;
  let certificate: X509Certificate;
  try {
    privateKey = createPrivateKey(keyBlock[0]).export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (error) {
    throw new GraphTokenError(`The private key of the client certificate cannot be read: ${(error as Error).message}.`, null, null, null);
  }
  try {
    certificate = new X509Certificate(certBlocks[0]!);
  } catch (error) {
    throw new GraphTokenError(`The client certificate cannot be read: ${(error as Error).message}.`, null, null, null);
  }
  if (!certificate.checkPrivateKey(createPrivateKey(privateKey))) {
    throw new GraphTokenError('The private key in the client certificate PEM does not belong to its (first) certificate.', null, null, null);
  }
  const thumbprintSha256 = createHash('sha256').update(certificate.raw).digest('hex');
  return { privateKey, certificates: certBlocks, thumbprintSha256, notAfter: new Date(certificate.validTo).toISOString() };
}

/** MSAL's HTTP over Liaison's transport; remembers the last network failure so the error can say what it was. */
/** The longest Retry-After of the token endpoint that a token request waits out itself. */
export const TOKEN_RETRY_WAIT_MS = 10_000;

class TransportNetworkModule implements INetworkModule {
  lastFailure: Error | null = null;
  /** The last answer that was an error (status ≥ 400): MSAL does not always pass Azure AD's reason on (metadata). */
  lastRefusal: { status: number; body: Record<string, unknown>; retryAfterMs: number | null } | null = null;

  constructor(private readonly transport: HttpTransport) {}

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    this.lastFailure = null;
    this.lastRefusal = null;
    try {
      const answer = await this.transport.request({
        method,
        url,
        headers: { ...(options?.headers ?? {}) },
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        maxResponseBytes: 1024 * 1024,
      });
      let body: unknown;
      try {
        body = JSON.parse(answer.body.toString('utf8'));
      } catch {
        throw new GraphTokenError(
          `The identity platform at ${new URL(url).host} answered HTTP ${answer.status} with something that is not JSON.`,
          null,
          answer.status,
          answer.body.toString('utf8').slice(0, SERVER_RESPONSE_CHARS),
        );
      }
      if (answer.status >= 400 && body && typeof body === 'object') {
        this.lastRefusal = { status: answer.status, body: body as Record<string, unknown>, retryAfterMs: retryAfterOf(answer.headers['retry-after']) };
      }
      return { headers: answer.headers, body: body as T, status: answer.status };
    } catch (error) {
      this.lastFailure = error as Error;
      throw error;
    }
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }
}

/** "AADSTS7000215" from MSAL's error: its error number (Azure AD's error_codes), or the code in the description. */
export function aadstsOf(error: unknown): string | null {
  if (!error || typeof error !== 'object') return null;
  const errorNo = (error as { errorNo?: unknown }).errorNo;
  if ((typeof errorNo === 'string' || typeof errorNo === 'number') && /^\d+$/.test(String(errorNo))) return `AADSTS${errorNo}`;
  const text = [(error as { errorMessage?: unknown }).errorMessage, (error as { message?: unknown }).message].filter((t): t is string => typeof t === 'string').join(' ');
  const match = /AADSTS(\d+)/.exec(text);
  return match ? `AADSTS${match[1]}` : null;
}

/** Azure AD's description without MSAL's wrapping, for the alert: "AADSTS7000215: Invalid client secret provided. …". */
function descriptionOf(error: AuthError): string {
  const text = error.errorMessage || error.message;
  const match = /Description:\s*([\s\S]*?)(?:\s*-\s*Correlation ID:|$)/.exec(text);
  return (match?.[1] ?? text).trim();
}

export class GraphTokens {
  private readonly app: ConfidentialClientApplication;
  private readonly network: TransportNetworkModule;
  private readonly transport: HttpTransport;
  private readonly ownsTransport: boolean;
  private readonly scope: string;
  private readonly authorityHost: string;

  constructor(private readonly options: GraphTokenOptions) {
    let authority: URL;
    try {
      authority = new URL(options.authority);
    } catch {
      throw new GraphTokenError(`The authority "${options.authority}" is not a URL (expected e.g. https://login.microsoftonline.com/<tenant id>).`, null, null, null);
    }
    if (authority.protocol !== 'https:') throw new GraphTokenError(`The authority ${options.authority} is not an https URL.`, null, null, null);
    if (!options.clientSecret && !options.certificatePem) throw new GraphTokenError('The profile has neither a client secret nor a client certificate.', null, null, null);
    this.authorityHost = authority.host;
    this.scope = graphScope(options.graphUrl);
    this.transport =
      options.transport ??
      createHttpTransport({
        resolve: options.resolve,
        ...(options.ca ? { trustedCaPem: options.ca.toString() } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    this.ownsTransport = options.transport === undefined;
    this.network = new TransportNetworkModule(this.transport);
    const certificate = options.clientSecret ? null : readCertificatePem(options.certificatePem!);
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: options.clientId,
        authority: authority.href.replace(/\/+$/, ''),
        knownAuthorities: [authority.host],
        ...(options.clientSecret
          ? { clientSecret: options.clientSecret }
          : { clientCertificate: { thumbprintSha256: certificate!.thumbprintSha256, privateKey: certificate!.privateKey, x5c: certificate!.certificates.join('\n') } }),
      },
      system: {
        networkClient: this.network,
        // Liaison's client decides about retries (the failure policy); MSAL's own would hide what happened.
        disableInternalRetries: true,
        loggerOptions: { piiLoggingEnabled: false, loggerCallback: () => undefined },
      },
    });
  }

  /** A valid token: MSAL's cached one, or a new one when it is about to expire (or `forceRefresh`: after a 401). */
  async token(options: { forceRefresh?: boolean } = {}): Promise<GraphToken> {
    let result;
    for (let attempt = 0; ; attempt += 1) {
      try {
        result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], ...(options.forceRefresh ? { skipCache: true } : {}) });
        break;
      } catch (error) {
        const explained = this.explain(error);
        // A throttled token request with a short Retry-After is waited out once, as the Graph client does its
        // calls; a longer one goes to the engine, which backs the mailbox off (throttled, not failed).
        if (attempt > 0 || explained.retryAfterMs === null || explained.retryAfterMs > TOKEN_RETRY_WAIT_MS) throw explained;
        await new Promise((resolve) => setTimeout(resolve, explained.retryAfterMs!));
      }
    }
    if (!result?.accessToken) throw new GraphTokenError(`${this.authorityHost} issued no access token.`, null, null, null);
    const claims = jwtClaims(result.accessToken);
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
    const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null;
    return { accessToken: result.accessToken, expiresAt: result.expiresOn ?? exp ?? new Date(Date.now() + 3_000_000), roles };
  }

  private explain(error: unknown): GraphTokenError {
    const explained = this.explainError(error);
    const refusal = this.network.lastRefusal;
    if (refusal?.retryAfterMs !== null && refusal?.retryAfterMs !== undefined && refusal.status === 429) explained.retryAfterMs = refusal.retryAfterMs;
    return explained;
  }

  private explainError(error: unknown): GraphTokenError {
    if (error instanceof GraphTokenError) return error;
    const network = this.network.lastFailure;
    if (network instanceof GraphTokenError) return network;
    if (network instanceof TransportError) {
      return new GraphTokenError(`The identity platform at ${this.authorityHost} could not be reached: ${network.message}`, null, null, null, null, { cause: network });
    }
    const refusal = this.network.lastRefusal;
    if (refusal && !(error instanceof AuthError && aadstsOf(error))) {
      // Azure AD's own answer, when MSAL replaced it with one of its own (e.g. the tenant's metadata was refused).
      const codes = refusal.body.error_codes;
      const description = typeof refusal.body.error_description === 'string' ? refusal.body.error_description : '';
      const aadsts = Array.isArray(codes) && codes.length > 0 ? `AADSTS${String(codes[0])}` : aadstsOf({ errorMessage: description });
      if (aadsts) {
        const oauth = typeof refusal.body.error === 'string' ? refusal.body.error : null;
        return new GraphTokenError(
          `${this.authorityHost} refused a token for app ${this.options.clientId}: ${description.split(/\r?\n/)[0]}`,
          aadsts,
          refusal.status,
          `${oauth ?? 'error'}: ${description}`.slice(0, SERVER_RESPONSE_CHARS),
          oauth,
          { cause: error },
        );
      }
    }
    if (error instanceof AuthError) {
      const aadsts = aadstsOf(error);
      const status = (error as { status?: unknown }).status;
      const description = descriptionOf(error);
      const serverResponse = `${error.errorCode}: ${error.errorMessage}`.slice(0, SERVER_RESPONSE_CHARS);
      return new GraphTokenError(
        aadsts ? `${this.authorityHost} refused a token for app ${this.options.clientId}: ${description}` : `No token from ${this.authorityHost}: ${error.errorCode}: ${description}`,
        aadsts,
        typeof status === 'number' ? status : null,
        serverResponse,
        error.errorCode || null,
        { cause: error },
      );
    }
    return new GraphTokenError(`No token from ${this.authorityHost}: ${(error as Error)?.message ?? String(error)}`, null, null, null, null, { cause: error });
  }

  async close(): Promise<void> {
    if (this.ownsTransport) await this.transport.close();
  }
}

/** Retry-After in seconds (the identity platform does not send HTTP dates) as ms; null when absent or unreadable. */
function retryAfterOf(value: string | string[] | undefined): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || !/^\s*\d+\s*$/.test(raw)) return null;
  return Number(raw) * 1000;
}
