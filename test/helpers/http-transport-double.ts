/**
 * A small HttpTransport for tests, honouring the contract in src/connectors/ews/transport/types.ts: one request,
 * no redirects followed, Basic credentials only and only over https, TLS verified against the given CAs, host
 * names mapped as curl's --resolve (`host:port:address[:port]`, the optional last port is where to connect)
 * while TLS checks the real name. A name without an entry fails as DNS would (ENOTFOUND): tests never touch
 * real DNS. Every request is kept in `sent` for the tests to check.
 */
import { Agent, buildConnector, request as undiciRequest } from 'undici';
import {
  type HttpRequest,
  type HttpResponse,
  type HttpStreamResponse,
  type HttpTransport,
  TransportError,
  type TransportErrorKind,
} from '../../src/connectors/ews/transport/types.js';

export interface SentRequest extends HttpRequest {
  /** Whether an Authorization header went out. */
  authorized: boolean;
}

export interface TransportDouble extends HttpTransport {
  sent: SentRequest[];
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

function kindOf(error: unknown): { kind: TransportErrorKind; code: string } {
  let e = error as { code?: string; cause?: unknown; name?: string } | undefined;
  for (let i = 0; i < 4 && e; i++) {
    const code = e.code ?? '';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns', code };
    if (code === 'ECONNREFUSED') return { kind: 'refused', code };
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return { kind: 'reset', code };
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'connect-timeout', code };
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', code };
    if (TLS_CODES.has(code)) return { kind: 'tls', code };
    if (e.name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED') return { kind: 'aborted', code };
    e = e.cause as typeof e;
  }
  return { kind: 'other', code: (error as { code?: string })?.code ?? '' };
}

export function createTransportDouble(options: { ca: string[]; resolve: readonly string[]; timeoutMs?: number }): TransportDouble {
  const map = new Map<string, { address: string; port: string }>();
  for (const entry of options.resolve) {
    const [host, port, address, toPort] = entry.split(':');
    if (!host || !port || !address) throw new Error(`bad resolve entry ${entry}`);
    map.set(`${host.toLowerCase()}:${port}`, { address, port: toPort ?? port });
  }
  const base = buildConnector({ ca: options.ca, timeout: 5_000 });
  const agent = new Agent({
    keepAliveTimeout: 10,
    connect: (opts, callback) => {
      const port = opts.port || (opts.protocol === 'https:' ? '443' : '80');
      const target = map.get(`${opts.hostname.toLowerCase()}:${port}`);
      if (!target) {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${opts.hostname}`), { code: 'ENOTFOUND', hostname: opts.hostname });
        return callback(error, null);
      }
      base({ ...opts, hostname: target.address, port: target.port, servername: opts.hostname }, callback);
    },
  });
  const sent: SentRequest[] = [];

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    const headers: Record<string, string> = { ...req.headers };
    if (req.credentials) {
      if (url.protocol !== 'https:') throw new TransportError('insecure-url', `credentials are never sent to ${req.url}`, { url: req.url, host: url.hostname });
      if (req.credentials.method !== 'basic') throw new Error('the test transport speaks Basic only');
      headers.authorization = `Basic ${Buffer.from(`${req.credentials.username}:${req.credentials.password}`).toString('base64')}`;
    }
    sent.push({ ...req, authorized: 'authorization' in headers });
    const started = Date.now();
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    try {
      const response = await undiciRequest(req.url, {
        method: req.method,
        headers,
        body: req.body ?? null,
        dispatcher: agent,
        headersTimeout: options.timeoutMs ?? 10_000,
        bodyTimeout: options.timeoutMs ?? 10_000,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      const single: Record<string, string> = {};
      const lists: Record<string, string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined) continue;
        const list = Array.isArray(value) ? value : [value];
        lists[name.toLowerCase()] = list;
        single[name.toLowerCase()] = list.join(', ');
      }
      return { status: response.statusCode, headers: single, headerLists: lists, body, elapsedMs: Date.now() - started };
    } catch (error) {
      const { kind, code } = kindOf(error);
      throw new TransportError(kind, `${req.method} ${req.url}: ${code || (error as Error).message}`, {
        url: req.url,
        host: url.hostname,
        port,
        ...(kind === 'tls' ? { tls: { code } } : {}),
        cause: error,
      });
    }
  }

  return {
    sent,
    request,
    stream(): Promise<HttpStreamResponse> {
      throw new Error('the test transport does not stream');
    },
    async close() {
      await agent.close();
    },
  };
}
