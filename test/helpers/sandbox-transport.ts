/**
 * An HttpTransport for tests, over the sandbox's undici agent (its CA trusted, host names sent to loopback):
 * enough of the contract for the connector's readers and the streaming reader to run against the sandbox until
 * they run on the connector's own transport. Basic credentials only.
 */
import type { Agent } from 'undici';
import { request } from 'undici';
import type { HttpRequest, HttpResponse, HttpStreamResponse, HttpTransport } from '../../src/connectors/ews/transport/types.js';

function headersOf(raw: Record<string, string | string[] | undefined>): { headers: Record<string, string>; headerLists: Record<string, string[]> } {
  const headers: Record<string, string> = {};
  const headerLists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    headers[name.toLowerCase()] = list.join(', ');
    headerLists[name.toLowerCase()] = list;
  }
  return { headers, headerLists };
}

export function sandboxTransport(agent: Agent): HttpTransport & { requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  const send = async (r: HttpRequest, signal?: AbortSignal) => {
    requests.push(r);
    const headers: Record<string, string> = { ...r.headers };
    if (r.credentials) {
      if (r.credentials.method !== 'basic') throw new Error('the test transport speaks Basic only');
      headers.authorization = `Basic ${Buffer.from(`${r.credentials.username}:${r.credentials.password}`).toString('base64')}`;
    }
    return request(r.url, { method: r.method, headers, body: r.body ?? null, dispatcher: agent, signal: signal ?? r.signal ?? null });
  };
  return {
    requests,
    async request(r): Promise<HttpResponse> {
      const started = Date.now();
      const answer = await send(r);
      const body = Buffer.from(await answer.body.arrayBuffer());
      return { status: answer.statusCode, ...headersOf(answer.headers), body, elapsedMs: Date.now() - started };
    },
    async stream(r): Promise<HttpStreamResponse> {
      const controller = new AbortController();
      r.signal?.addEventListener('abort', () => controller.abort(), { once: true });
      const answer = await send(r, controller.signal);
      let ended = false;
      return {
        status: answer.statusCode,
        ...headersOf(answer.headers),
        body: (async function* () {
          try {
            for await (const chunk of answer.body) yield chunk as Buffer;
          } catch (error) {
            if (!ended) throw error;
          }
        })(),
        cancel() {
          if (ended) return;
          ended = true;
          answer.body.destroy();
        },
      };
    },
    async close() {},
  };
}
