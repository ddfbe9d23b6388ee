/**
 * The sandbox server: one HTTPS port serving several virtual hosts (by SNI for the certificate, by Host for
 * the content), plus a plain-HTTP port that only answers the unauthenticated Autodiscover redirect probe.
 *
 *   <domain>, autodiscover.<domain>          Autodiscover (POX and SOAP)
 *   mail.<domain>, mail2.<domain>            EWS (two Exchange servers) and Autodiscover
 *   wrong-name.<domain>                      as mail.<domain>, but with a certificate for another name
 *   graph.<domain>                           Microsoft Graph (/v1.0), app-only bearer tokens
 *   login.<domain>                           the Microsoft identity platform stand-in (token endpoint, metadata)
 *   127.0.0.1 / localhost                    the control API (/_sandbox/), on every host too
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { EWS_SCHEMA_DIR, loadEwsSchema } from '../xml/ews-schema.js';
import { answerPox, answerSoap } from './autodiscover/autodiscover.js';
import { authenticate, challenge, serverIdentity } from './auth.js';
import { DEFAULT_SETTINGS, Faults, type SandboxSettings } from './behaviour.js';
import { controlAccess, isLoopback } from './control/access.js';
import { handleControl } from './control/control.js';
import { applyFault, handleEws } from './ews/endpoint.js';
import { handleGraph } from './graph/api.js';
import { handleLogin } from './graph/login.js';
import { GraphService, registerGraph } from './graph/service.js';
import { Subscriptions } from './ews/subscriptions.js';
import { loadPki, type SandboxPki } from './pki.js';
import { type ExchangeRecord, exchangeHeaders, type SandboxRuntime } from './runtime.js';
import { seedDemo } from './seed.js';
import type { ServerName } from './state/model.js';
import { SandboxState } from './state/sandbox-state.js';

export interface SandboxOptions {
  /** HTTPS port; 0 for any free one. */
  port?: number;
  /** Plain-HTTP port for the Autodiscover redirect probe; 0 for any free one, null for none. */
  httpPort?: number | null;
  /** Address to listen on. */
  host?: string;
  domain?: string;
  /** Keep state and certificates here; without it they live in a temporary folder for this run. */
  dataDir?: string | null;
  seed?: 'demo' | null;
  settings?: Partial<SandboxSettings>;
  /** Lets callers other than loopback use the control API with `Authorization: Bearer <token>`; without it, only loopback may. */
  controlToken?: string | null;
  onExchange?: (record: ExchangeRecord) => void;
  log?: (message: string) => void;
}

export interface SandboxInfo {
  ews: string;
  ews2: string;
  autodiscover: { pox: string[]; soap: string[]; httpRedirect: string | null };
  control: string;
  /** Who the control API answers: loopback callers only, or also others that send the control token. */
  controlAccess: 'loopback' | 'loopback-or-token';
  caCert: string;
  domain: string;
  hosts: string[];
  listen: { address: string; port: number; httpPort: number | null };
  serviceAccount?: { username: string; password: string };
  mailboxes?: string[];
  /**
   * The Graph side: its base URL (append /v1.0), the authority (token endpoint at authority + /oauth2/v2.0/token)
   * and the tenant; with the demo seed, the demo app (Mail.ReadWrite and Mail.Send consented) and its secret.
   */
  graph: { url: string; authority: string; tenantId: string; clientId?: string; clientSecret?: string };
}

export interface Sandbox {
  info: SandboxInfo;
  runtime: SandboxRuntime;
  pki: SandboxPki;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024;

/** A port the sandbox could not listen on (taken, or not allowed); `which` says which of its two ports. */
export class SandboxListenError extends Error {
  constructor(
    readonly which: 'https' | 'http',
    readonly port: number,
    readonly host: string,
    readonly code: string,
  ) {
    super(`${which === 'https' ? 'HTTPS' : 'plain-HTTP'} port ${port} on ${host} ${code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${code})`}`);
  }
}

function listen(server: HttpServer | HttpsServer, which: 'https' | 'http', port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(error.code ? new SandboxListenError(which, port, host, error.code) : error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/html', Server: 'Microsoft-IIS/10.0' });
  res.end('<html><body><h2>404 - File or directory not found.</h2></body></html>');
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const domain = (options.domain ?? 'contoso.test').toLowerCase();
  const listenHost = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir ?? null;
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const names = {
    root: domain,
    autodiscover: `autodiscover.${domain}`,
    mail: `mail.${domain}`,
    mail2: `mail2.${domain}`,
    wrongName: `wrong-name.${domain}`,
    graph: `graph.${domain}`,
    login: `login.${domain}`,
  };
  // Without a data folder the certificates live in a temporary folder for this run, removed on close.
  const pkiDir = dataDir ? path.join(dataDir, 'pki') : mkdtempSync(path.join(tmpdir(), 'liaison-sandbox-'));
  const pki = loadPki(pkiDir, domain, [
    { host: names.root, names: [names.root] },
    { host: names.autodiscover, names: [names.autodiscover] },
    { host: names.mail, names: [names.mail] },
    { host: names.mail2, names: [names.mail2] },
    // The certificate of another server, as when a proxy or a mistyped DNS record sends clients to it.
    { host: names.wrongName, names: [`mail.fabrikam.test`] },
    { host: names.graph, names: [names.graph] },
    { host: names.login, names: [names.login] },
  ]);
  loadEwsSchema();
  const state = SandboxState.open(domain, dataDir);
  const settings: SandboxSettings = { ...DEFAULT_SETTINGS, ...options.settings };
  let httpsPort = 0;

  const runtime: SandboxRuntime = {
    domain,
    state,
    settings,
    faults: new Faults(),
    subscriptions: new Subscriptions(),
    inFlight: new Map(),
    syncInFlight: new Map(),
    baseUrl: (host) => `https://${host}:${httpsPort}`,
    ewsUrl: (server) => `https://${server === 'mail' ? names.mail : names.mail2}:${httpsPort}/EWS/Exchange.asmx`,
    serverHost: (server) => (server === 'mail' ? names.mail : names.mail2),
    serverOf: (host) => (host === names.mail || host === names.wrongName ? 'mail' : host === names.mail2 ? 'mail2' : null),
    onExchange: options.onExchange ?? null,
    log,
  };

  const graph = new GraphService(runtime, { graph: names.graph, login: names.login });
  registerGraph(runtime, graph);
  const seeded = options.seed === 'demo' ? await seedDemo(state) : null;
  // Filled in once the ports are known; the control API reads it on request.
  const ready: { info?: SandboxInfo } = {};

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://sandbox');
    const servername = (req.socket as TLSSocket).servername;
    const hostHeader = (req.headers.host ?? (typeof servername === 'string' ? servername : '')).toLowerCase();
    const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const pathname = url.pathname.toLowerCase();

    if (pathname === '/_sandbox' || pathname.startsWith('/_sandbox/')) {
      const refused = controlAccess(req.socket.remoteAddress, req.headers.authorization, options.controlToken ?? null);
      if (refused) {
        res.writeHead(refused.status, {
          'Content-Type': 'application/json; charset=utf-8',
          'Cache-Control': 'no-store',
          ...(refused.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="sandbox control API"' } : {}),
        });
        return void res.end(`${JSON.stringify({ error: refused.error })}\n`);
      }
      const body = await readBody(req, MAX_BODY);
      if (!body) return void res.writeHead(413).end();
      return handleControl(runtime, () => ({ ...ready.info }), req, res, body);
    }

    if (host === names.graph || host === names.login) {
      const body = await readBody(req, MAX_BODY);
      if (!body) return void res.writeHead(413).end();
      return host === names.graph ? handleGraph(graph, req, res, body) : handleLogin(graph, req, res, body);
    }

    const server: ServerName | null = runtime.serverOf(host);
    const autodiscoverHost = host === names.root || host === names.autodiscover || server !== null;
    const isEws = pathname.startsWith('/ews/');
    const isAutodiscover = pathname === '/autodiscover/autodiscover.xml' || pathname === '/autodiscover/autodiscover.svc';
    if ((isEws && !server) || (isAutodiscover && !autodiscoverHost) || (!isEws && !isAutodiscover)) return notFound(res);
    // Exchange advertises its SOAP Autodiscover service on every Autodiscover answer, the 401 to the unauthenticated
    // probe included; the EWS Managed API (and the clients ported from it) skip a candidate host whose answer lacks it.
    if (isAutodiscover) res.setHeader('X-SOAP-Enabled', 'True');

    // NTLM names the server behind the host: mail2 for mail2.<domain>, mail for the others.
    const auth = authenticate(req, state, settings, host, serverIdentity(domain, server ?? 'mail'));
    if (!auth.account) {
      // Why a credential was refused is in the sandbox's log, not in the 401 (Exchange's is empty too).
      if (auth.reason) log(`sandbox: 401 for ${req.method} https://${host}${url.pathname}: ${auth.reason}`);
      return challenge(res, host, settings.basicAuth, auth.wwwAuthenticate);
    }
    if (auth.wwwAuthenticate) res.setHeader('WWW-Authenticate', auth.wwwAuthenticate);
    const account = auth.account;

    if (isEws) {
      if (req.method === 'GET') {
        const file = { '/ews/services.wsdl': 'services.wsdl', '/ews/messages.xsd': 'messages.xsd', '/ews/types.xsd': 'types.xsd' }[pathname];
        if (file) {
          res.writeHead(200, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8' });
          return void res.end(readFileSync(EWS_SCHEMA_DIR + file));
        }
        if (pathname === '/ews/exchange.asmx') {
          res.writeHead(200, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/html; charset=utf-8' });
          return void res.end('<html><head><title>Service</title></head><body><p>You have created a service.</p></body></html>');
        }
        return notFound(res);
      }
      if (pathname !== '/ews/exchange.asmx' || req.method !== 'POST') return notFound(res);
      const body = await readBody(req, MAX_BODY);
      if (!body) {
        res.writeHead(413, { Server: 'Microsoft-IIS/10.0' });
        return void res.end();
      }
      return handleEws(runtime, req, res, server!, account, host, body.toString('utf8'));
    }

    // Autodiscover
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', Server: 'Microsoft-IIS/10.0' });
      return void res.end();
    }
    const body = await readBody(req, 1024 * 1024);
    if (!body) return void res.writeHead(413).end();
    const text = body.toString('utf8');
    const soap = pathname.endsWith('.svc');
    const record: ExchangeRecord = { surface: soap ? 'autodiscover-soap' : 'autodiscover-pox', operation: soap ? 'GetUserSettings' : 'pox', host, status: 0, request: text, response: [], accepted: true };
    const rule = runtime.faults.take({ operation: 'autodiscover', mailbox: null, host });
    if (rule && (await applyFault(rule, res, runtime, server)) === 'handled') {
      record.status = res.statusCode;
      runtime.onExchange?.(record);
      return;
    }
    const answer = soap ? answerSoap(runtime, text) : answerPox(runtime, text);
    record.status = answer.status;
    record.response.push(answer.body);
    res.writeHead(answer.status, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8' });
    res.end(answer.body);
    runtime.onExchange?.(record);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      log(`sandbox request ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end();
    });
  };

  const https: HttpsServer = createHttpsServer(
    {
      SNICallback: (serverName, callback) => callback(null, pki.contextFor(serverName)),
      key: readFileSync(path.join(pkiDir, 'server.key')),
      cert: readFileSync(path.join(pkiDir, 'localhost.pem')),
      keepAliveTimeout: 120_000,
    },
    onRequest,
  );
  // Streaming notifications hold a response open for up to 30 minutes.
  https.requestTimeout = 0;
  https.headersTimeout = 60_000;

  const http: HttpServer | null =
    options.httpPort === null
      ? null
      : createHttpServer((req, res) => {
          const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
          const pathname = new URL(req.url ?? '/', 'http://sandbox').pathname.toLowerCase();
          if (req.method === 'GET' && host === names.autodiscover && pathname === '/autodiscover/autodiscover.xml' && settings.autodiscoverHttpRedirect) {
            res.writeHead(302, {
              Location: `${runtime.baseUrl(names.autodiscover)}/autodiscover/autodiscover.xml`,
              'Cache-Control': 'no-cache',
              Pragma: 'no-cache',
              Server: 'Microsoft-IIS/10.0',
              'Content-Length': '0',
            });
            return void res.end();
          }
          notFound(res);
        });

  try {
    await listen(https, 'https', options.port ?? 8443, listenHost);
  } catch (error) {
    if (!dataDir) rmSync(pkiDir, { recursive: true, force: true });
    throw error;
  }
  httpsPort = (https.address() as AddressInfo).port;
  let httpPort: number | null = null;
  if (http) {
    try {
      await listen(http, 'http', options.httpPort ?? 8480, listenHost);
    } catch (error) {
      await new Promise<void>((resolve) => https.close(() => resolve()));
      if (!dataDir) rmSync(pkiDir, { recursive: true, force: true });
      throw error;
    }
    httpPort = (http.address() as AddressInfo).port;
  }

  const hosts = [names.root, names.autodiscover, names.mail, names.mail2, names.wrongName, names.graph, names.login];
  const literal = listenHost.includes(':') ? `[${listenHost}]` : listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost;
  const info: SandboxInfo = {
    ews: runtime.ewsUrl('mail'),
    ews2: runtime.ewsUrl('mail2'),
    autodiscover: {
      pox: [names.root, names.autodiscover].map((h) => `${runtime.baseUrl(h)}/autodiscover/autodiscover.xml`),
      soap: [names.root, names.autodiscover].map((h) => `${runtime.baseUrl(h)}/autodiscover/autodiscover.svc`),
      httpRedirect: httpPort === null ? null : `http://${names.autodiscover}:${httpPort}/autodiscover/autodiscover.xml`,
    },
    control: `https://${literal === '127.0.0.1' || literal === 'localhost' ? literal : '127.0.0.1'}:${httpsPort}/_sandbox`,
    controlAccess: options.controlToken ? 'loopback-or-token' : 'loopback',
    caCert: pki.caCertPath,
    domain,
    hosts,
    listen: { address: listenHost, port: httpsPort, httpPort },
    ...(seeded ? { serviceAccount: seeded.serviceAccount, mailboxes: seeded.mailboxes } : {}),
    graph: {
      url: graph.graphUrl(),
      authority: graph.authority(),
      tenantId: graph.directory.tenantId,
      ...(seeded?.graphApp ? { clientId: seeded.graphApp.clientId, clientSecret: seeded.graphApp.clientSecret } : {}),
    },
  };
  ready.info = info;
  if (!isLoopback(listenHost === 'localhost' ? '127.0.0.1' : listenHost)) {
    log(
      `The sandbox listens on ${listenHost}: EWS and Autodiscover can be reached from the network. The control API ` +
        (options.controlToken
          ? 'answers other addresses only with "Authorization: Bearer <control token>".'
          : 'still answers only on the loopback address; give it a control token (--control-token) to use it from elsewhere.'),
    );
  }

  return {
    info,
    runtime,
    pki,
    async close() {
      runtime.subscriptions.clear();
      graph.close();
      state.saveNow();
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
      if (http) {
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
      if (!dataDir) rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}
