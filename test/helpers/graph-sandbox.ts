/**
 * The Graph side of a test sandbox: the demo app's token from the login host, and JSON calls to the graph host
 * (by name, resolved to the loopback address, the sandbox's CA trusted), every answer kept for the checks.
 */
import { request } from 'undici';
import { startTestSandbox, type TestSandbox } from './sandbox.js';

export interface GraphInfo {
  url: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface GraphAnswer {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON (throws when it is not JSON). */
  json<T = unknown>(): T;
  isJson: boolean;
}

export interface GraphCallOptions {
  body?: unknown;
  /** A body sent as is (text/plain base64 MIME, a form). */
  rawBody?: string;
  headers?: Record<string, string>;
  /** The bearer token; null sends none; default the demo app's. */
  token?: string | null;
}

export interface GraphTestSandbox {
  s: TestSandbox;
  graph: GraphInfo;
  /** https://graph.<domain>:<port> (no /v1.0). */
  graphBase: string;
  /** https://login.<domain>:<port> */
  loginBase: string;
  /** Every answer of the graph and login hosts, in order. */
  answers: GraphAnswer[];
  /** The demo app's token (fetched once). */
  token(): Promise<string>;
  /** A token request (client credentials) as the given app; answers as they come. */
  tokenRequest(form: Record<string, string>, tenant?: string): Promise<GraphAnswer>;
  /** A call to a path under /v1.0 ('/users/…') or an absolute URL (a nextLink). */
  call(method: string, pathOrUrl: string, options?: GraphCallOptions): Promise<GraphAnswer>;
  close(): Promise<void>;
}

/** Graph's message id for an EWS ItemId: the id made URL-safe, as Exchange's REST ids are. */
export function graphId(ewsItemId: string): string {
  return ewsItemId.replace(/\+/g, '-').replace(/\//g, '_');
}

export async function startGraphSandbox(): Promise<GraphTestSandbox> {
  const s = await startTestSandbox();
  const info = (await s.control<{ graph?: Partial<GraphInfo> }>('GET', '/')).json;
  if (!info.graph?.clientId || !info.graph.clientSecret) {
    await s.close();
    throw new Error(`the sandbox has no seeded Graph app (GET /_sandbox/ answered graph: ${JSON.stringify(info.graph)})`);
  }
  const graph = info.graph as GraphInfo;
  const graphBase = graph.url.replace(/\/v1\.0\/?$/, '').replace(/\/$/, '');
  const loginBase = new URL(graph.authority).origin;
  const answers: GraphAnswer[] = [];
  let cached: string | null = null;

  const send = async (method: string, url: string, body: string | undefined, headers: Record<string, string>): Promise<GraphAnswer> => {
    const response = await request(url, { method: method as 'GET', headers, dispatcher: s.agent, ...(body === undefined ? {} : { body }) });
    const text = await response.body.text();
    const type = String(response.headers['content-type'] ?? '');
    const answer: GraphAnswer = {
      method,
      url,
      status: response.statusCode,
      headers: response.headers,
      text,
      isJson: /json/i.test(type) && text.length > 0,
      json: <T>() => JSON.parse(text) as T,
    };
    answers.push(answer);
    return answer;
  };

  const tokenRequest: GraphTestSandbox['tokenRequest'] = (form, tenant = graph.tenantId) =>
    send('POST', `${loginBase}/${tenant}/oauth2/v2.0/token`, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded' });

  const token = async () => {
    if (cached) return cached;
    const answer = await tokenRequest({ client_id: graph.clientId, client_secret: graph.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' });
    if (answer.status !== 200) throw new Error(`the demo app got no token: ${answer.status} ${answer.text}`);
    cached = answer.json<{ access_token: string }>().access_token;
    return cached;
  };

  return {
    s,
    graph,
    graphBase,
    loginBase,
    answers,
    token,
    tokenRequest,
    async call(method, pathOrUrl, options = {}) {
      const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${graphBase}/v1.0${pathOrUrl}`;
      const headers: Record<string, string> = { ...options.headers };
      const bearer = options.token === undefined ? await token() : options.token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      let body: string | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      return send(method, url, body, headers);
    },
    close: () => s.close(),
  };
}
