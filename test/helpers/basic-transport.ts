/**
 * A Basic-only HttpTransport over undici for the connector's tests: trusts one CA, maps every host name to the
 * loopback address (names kept for TLS), never follows redirects, and can record what is sent. It is the test
 * double of the real transport (src/connectors/ews/transport/), not a replacement for it: no NTLM, no caps.
 */
import { Agent, request } from 'undici';
import type { HttpRequest, HttpResponse, HttpStreamResponse, HttpTransport } from '../../src/connectors/ews/transport/types.js';
import { TransportError } from '../../src/connectors/ews/transport/types.js';
import { loopbackLookup } from './sandbox.js';

export interface RecordedRequest {
  request: HttpRequest;
  bodyText: string;
}

function headerMaps(raw: Record<string, string | string[] | undefined>): Pick<HttpResponse, 'headers' | 'headerLists'> {
  const headers: Record<string, string> = {};
  const headerLists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    headerLists[name.toLowerCase()] = list;
    headers[name.toLowerCase()] = list.join(', ');
  }
  return { headers, headerLists };
}

function authorization(req: HttpRequest): Record<string, string> {
  const c = req.credentials;
  if (!c) return {};
  if (c.method !== 'basic') throw new TransportError('other', 'the test transport speaks Basic only', { url: req.url });
  if (!req.url.startsWith('https://')) throw new TransportError('insecure-url', 'credentials are only sent over https', { url: req.url });
  return { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
}

export class BasicTestTransport implements HttpTransport {
  readonly sent: RecordedRequest[] = [];
  private readonly agent: Agent;

  constructor(caPem: string) {
    this.agent = new Agent({ connect: { ca: caPem, lookup: loopbackLookup }, keepAliveTimeout: 10 });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const started = Date.now();
    this.sent.push({ request: req, bodyText: req.body === undefined ? '' : req.body.toString() });
    const headers = { ...req.headers, ...authorization(req) };
    const answer = await request(req.url, {
      method: req.method,
      headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      dispatcher: this.agent,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const body = Buffer.from(await answer.body.arrayBuffer());
    return { status: answer.statusCode, ...headerMaps(answer.headers), body, elapsedMs: Date.now() - started };
  }

  async stream(req: HttpRequest): Promise<HttpStreamResponse> {
    const headers = { ...req.headers, ...authorization(req) };
    const controller = new AbortController();
    const answer = await request(req.url, {
      method: req.method,
      headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      dispatcher: this.agent,
      signal: controller.signal,
    });
    return { status: answer.statusCode, ...headerMaps(answer.headers), body: answer.body, cancel: () => controller.abort() };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
