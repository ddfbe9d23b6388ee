/** Shared by the graph-*.test.ts files: a demo sandbox, its demo app's token, and a small Graph caller. */
import { request } from 'undici';
import { type SandboxOptions } from '../../src/sandbox/server.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

// Answers are read as loosely typed JSON: the tests check their shapes property by property.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface GraphAnswer<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Buffer;
  json: T;
}

export interface GraphSandbox extends TestSandbox {
  graphUrl: string;
  loginUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** POSTs a form to the token endpoint of a tenant (default: the sandbox's). */
  tokenRequest(form: Record<string, string>, tenant?: string): Promise<GraphAnswer>;
  /** A token for an app's client secret (default: the demo app). */
  token(clientId?: string, clientSecret?: string): Promise<string>;
  /** A Graph call below /v1.0 with the demo app's token (or the one given; null for none). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  graph<T = any>(method: string, path: string, options?: { body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string>; token?: string | null }): Promise<GraphAnswer<T>>;
}

async function answer(response: Awaited<ReturnType<typeof request>>): Promise<GraphAnswer> {
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.statusCode, headers: response.headers as Record<string, string>, text, bytes, json };
}

export async function startGraphSandbox(options: SandboxOptions = {}): Promise<GraphSandbox> {
  const t = await startTestSandbox(options);
  const g = t.info.graph;
  const loginUrl = g.authority.slice(0, g.authority.lastIndexOf('/'));
  let cached: string | null = null;
  const tokenRequest: GraphSandbox['tokenRequest'] = async (form, tenant = g.tenantId) => {
    const response = await request(`${loginUrl}/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      dispatcher: t.agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return answer(response);
  };
  const token: GraphSandbox['token'] = async (clientId = g.clientId!, clientSecret = g.clientSecret!) => {
    const result = await tokenRequest({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'https://graph.microsoft.com/.default' });
    if (result.status !== 200) throw new Error(`token: ${result.status} ${result.text}`);
    return (result.json as { access_token: string }).access_token;
  };
  return {
    ...t,
    graphUrl: g.url,
    loginUrl,
    tenantId: g.tenantId,
    clientId: g.clientId!,
    clientSecret: g.clientSecret!,
    tokenRequest,
    token,
    async graph(method, path, options = {}) {
      let bearer = options.token;
      if (bearer === undefined) bearer = cached ??= await token();
      const headers: Record<string, string> = { ...options.headers };
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      let body: string | undefined;
      if (options.raw !== undefined) {
        body = options.raw;
        headers['content-type'] = options.contentType ?? 'text/plain';
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const url = path.startsWith('https://') ? path : `${g.url}/v1.0${path}`;
      return answer(await request(url, { method: method as 'GET', dispatcher: t.agent, headers, body })) as never;
    },
  };
}
