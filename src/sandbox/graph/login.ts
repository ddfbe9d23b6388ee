/**
 * login.<domain>: the stand-in for the Microsoft identity platform. The client-credentials token endpoint (a
 * client secret, or a client assertion signed with a registered certificate), the OpenID configuration and
 * keys MSAL reads, and instance discovery. Errors carry AADSTS codes in Azure AD's JSON shape.
 */
import { createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphApp } from '../state/model.js';
import type { GraphService } from './service.js';
import { decodeJwt, signJwt, verifyRs256 } from './jwt.js';

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

export class AadError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function aadTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function aadErrorBody(error: AadError): Record<string, unknown> {
  const now = new Date();
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    error: error.error,
    error_description: `AADSTS${error.code}: ${error.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${aadTimestamp(now)}`,
    error_codes: [error.code],
    timestamp: aadTimestamp(now),
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${error.code}`,
  };
}

function json(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache', 'x-ms-request-id': randomUUID(), ...extra });
  res.end(JSON.stringify(value));
}

function tenantNotFound(tenant: string): AadError {
  return new AadError(
    400,
    'invalid_request',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

/** Answers a request to login.<domain>. */
export async function handleLogin(graph: GraphService, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://login');
  const parts = url.pathname.split('/').filter(Boolean);
  const tenant = parts[0] ?? '';
  const rest = parts.slice(1).join('/').toLowerCase();
  const base = graph.loginUrl();
  try {
    if (req.method === 'GET' && tenant.toLowerCase() === 'common' && rest === 'discovery/instance') {
      const host = new URL(base).host;
      return json(res, 200, {
        tenant_discovery_endpoint: `${base}/${graph.directory.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    const known = graph.directory.isTenant(tenant) || ['common', 'organizations'].includes(tenant.toLowerCase());
    if (req.method === 'GET' && (rest === 'v2.0/.well-known/openid-configuration' || rest === '.well-known/openid-configuration')) {
      if (!known) {
        const error = tenantNotFound(tenant);
        return json(res, 400, { ...aadErrorBody(error), error: 'invalid_tenant' });
      }
      const tid = graph.directory.tenantId;
      return json(res, 200, {
        token_endpoint: `${base}/${tid}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/${tid}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/${tid}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${graph.graphUrl()}/oidc/userinfo`,
        authorization_endpoint: `${base}/${tid}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/${tid}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/${tid}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'roles'],
        tenant_region_scope: 'EU',
        cloud_instance_name: new URL(base).hostname,
      });
    }
    if (req.method === 'GET' && (rest === 'discovery/v2.0/keys' || rest === 'discovery/keys')) {
      const key = graph.directory.key();
      const jwk = createPublicKey(key).export({ format: 'jwk' });
      const kid = graph.directory.keyId();
      return json(res, 200, { keys: [{ kty: 'RSA', use: 'sig', kid, x5t: kid, n: jwk.n, e: jwk.e, issuer: `${base}/${graph.directory.tenantId}/v2.0` }] });
    }
    if (rest === 'oauth2/v2.0/token') {
      if (req.method !== 'POST') throw new AadError(405, 'invalid_request', 900561, 'The endpoint only accepts POST requests. Received a GET request.');
      if (!known || ['common', 'organizations'].includes(tenant.toLowerCase())) {
        if (!known) throw tenantNotFound(tenant);
        throw new AadError(400, 'invalid_request', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.');
      }
      const rule = graph.runtime.faults.take({ operation: 'graph.token', mailbox: null, host: new URL(base).hostname }, ['http503', 'http429', 'slow', 'drop', 'malformed']);
      if (rule) {
        if (rule.kind === 'slow') await new Promise((r) => setTimeout(r, rule.delayMs));
        else if (rule.kind === 'drop') return void res.socket?.destroy();
        else if (rule.kind === 'malformed') {
          res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
          return void res.end('{"token_type":"Bearer","expires_in":');
        } else {
          // Azure AD's own words: 429 is its loop detection (AADSTS50196), 503 a transient failure (AADSTS90033).
          const error =
            rule.kind === 'http429'
              ? new AadError(429, 'temporarily_unavailable', 50196, 'The server terminated an operation because it encountered a client request loop. Please contact your app vendor.')
              : new AadError(503, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.');
          return json(res, error.status, aadErrorBody(error), {
            'Retry-After': String(graph.runtime.settings.graphRetryAfterSeconds),
          });
        }
      }
      const form = new URLSearchParams(body.toString('utf8'));
      const answer = issueToken(graph, url, req, form);
      return json(res, 200, answer);
    }
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end('<html><body>Not found</body></html>');
  } catch (error) {
    if (error instanceof AadError) return json(res, error.status, aadErrorBody(error));
    throw error;
  }
}

function credentialsFrom(req: IncomingMessage, form: URLSearchParams): { clientId: string | null; secret: string | null } {
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  }
  return { clientId: form.get('client_id'), secret: form.get('client_secret') };
}

function issueToken(graph: GraphService, url: URL, req: IncomingMessage, form: URLSearchParams): Record<string, unknown> {
  const grant = form.get('grant_type');
  if (grant !== 'client_credentials') {
    throw new AadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant ?? ''}'.`);
  }
  const { clientId, secret } = credentialsFrom(req, form);
  if (!clientId) throw new AadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
  const scope = form.get('scope') ?? '';
  const resources = [GRAPH_RESOURCE, graph.graphUrl(), '00000003-0000-0000-c000-000000000000'];
  const scopes = scope.split(/\s+/).filter(Boolean);
  if (scopes.length === 0) throw new AadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
  const resourceScope = scopes.find((s) => s.toLowerCase().endsWith('/.default'));
  const resource = resourceScope?.slice(0, -'/.default'.length).replace(/\/$/, '');
  if (!resource || !resources.some((r) => r.toLowerCase() === resource.toLowerCase())) {
    throw new AadError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const app = graph.directory.app(clientId);
  if (!app) {
    throw new AadError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${graph.runtime.domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }
  const assertion = form.get('client_assertion');
  let appidacr: '1' | '2';
  if (assertion) {
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      throw new AadError(400, 'invalid_request', 700026, "Client assertion type is not supported. The client assertion type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.");
    }
    checkAssertion(graph, app, assertion, url);
    appidacr = '2';
  } else if (secret !== null) {
    const now = Date.now();
    const match = app.secrets.find((s) => s.value === secret);
    if (!match) {
      throw new AadError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      );
    }
    if (match.expiresAt && Date.parse(match.expiresAt) <= now) {
      throw new AadError(
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    }
    appidacr = '1';
  } else {
    throw new AadError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  }
  const lifetime = graph.runtime.settings.graphTokenLifetimeSeconds;
  const now = Math.floor(Date.now() / 1000);
  const tid = graph.directory.tenantId;
  const claims: Record<string, unknown> = {
    aud: GRAPH_RESOURCE,
    iss: `https://sts.windows.net/${tid}/`,
    iat: now - 5,
    nbf: now - 5,
    exp: now - 5 + lifetime,
    aio: randomUUID(),
    app_displayname: app.displayName,
    appid: app.clientId,
    appidacr,
    idp: `https://sts.windows.net/${tid}/`,
    idtyp: 'app',
    oid: app.servicePrincipalId,
    ...(app.permissions.length > 0 ? { roles: [...app.permissions] } : {}),
    sub: app.servicePrincipalId,
    tenant_region_scope: 'EU',
    tid,
    uti: randomUUID().replace(/-/g, '').slice(0, 22),
    ver: '1.0',
  };
  const kid = graph.directory.keyId();
  const token = signJwt({ nonce: randomUUID(), x5t: kid, kid }, claims, graph.directory.key());
  return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token };
}

function invalidAssertion(detail: string): AadError {
  return new AadError(401, 'invalid_client', 700027, `Client assertion contains an invalid signature. [Reason - ${detail}]`);
}

function checkAssertion(graph: GraphService, app: GraphApp, assertion: string, url: URL): void {
  const jwt = decodeJwt(assertion);
  if (!jwt) throw new AadError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
  const x5t = typeof jwt.header.x5t === 'string' ? Buffer.from(jwt.header.x5t, 'base64url').toString('hex') : null;
  const x5t256 = typeof jwt.header['x5t#S256'] === 'string' ? Buffer.from(jwt.header['x5t#S256'], 'base64url').toString('hex') : null;
  const thumbprint = x5t256 ?? x5t ?? '';
  const cert = app.certificates.find((c) => (x5t256 ? c.sha256 === x5t256 : c.sha1 === x5t));
  if (!cert) throw invalidAssertion(`The key was not found., Thumbprint of key used by client: '${thumbprint.toUpperCase()}'`);
  if (!verifyRs256(jwt, new X509Certificate(cert.pem).publicKey, true)) throw invalidAssertion(`The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint.toUpperCase()}'`);
  const p = jwt.payload;
  if (p.iss !== app.clientId && String(p.iss).toLowerCase() !== app.clientId) throw new AadError(401, 'invalid_client', 700021, 'Client assertion application identifier doesn\'t match \'client_id\' parameter.');
  const now = Date.now() / 1000;
  if (typeof p.exp !== 'number' || p.exp < now - 300) throw new AadError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
  if (typeof p.nbf === 'number' && p.nbf > now + 300) throw new AadError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
  const aud = typeof p.aud === 'string' ? p.aud : '';
  let audOk = false;
  try {
    const a = new URL(aud);
    const segments = a.pathname.split('/').filter(Boolean);
    audOk = a.host === new URL(graph.loginUrl()).host && segments.length === 4 && graph.directory.isTenant(segments[0]!) && segments.slice(1).join('/') === 'oauth2/v2.0/token';
  } catch {
    audOk = false;
  }
  if (!audOk) throw new AadError(401, 'invalid_client', 700212, `No matching federated identity record found for presented assertion audience '${aud}'.`);
  void url;
}
