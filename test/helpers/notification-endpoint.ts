/**
 * A local change-notification endpoint for Graph subscriptions: answers the validation handshake
 * (`POST ?validationToken=X` → 200 text/plain X, as Graph demands) and keeps every notification POSTed to it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedNotification {
  path: string;
  contentType: string;
  body: unknown;
}

export interface NotificationEndpoint {
  /** http://127.0.0.1:<port> */
  url: string;
  validations: Array<{ path: string; token: string; contentType: string }>;
  notifications: ReceivedNotification[];
  /** Resolves when a notification matching the test has arrived (polls what arrived; no timing assertion). */
  waitFor(test: (n: ReceivedNotification) => boolean, timeoutMs?: number): Promise<ReceivedNotification>;
  /** Answer the handshake wrongly from now on (echo something else), to see a subscription refused. */
  refuseValidation: boolean;
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startNotificationEndpoint(): Promise<NotificationEndpoint> {
  const endpoint: NotificationEndpoint = {
    url: '',
    validations: [],
    notifications: [],
    refuseValidation: false,
    async waitFor(test, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = endpoint.notifications.find(test);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no matching notification within ${timeoutMs} ms; received: ${JSON.stringify(endpoint.notifications.map((n) => n.body))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const text = await readAll(req);
      const token = url.searchParams.get('validationToken');
      if (token !== null) {
        endpoint.validations.push({ path: url.pathname, token, contentType: String(req.headers['content-type'] ?? '') });
        res.writeHead(200, { 'content-type': 'text/plain' }).end(endpoint.refuseValidation ? 'not-the-token' : token);
        return;
      }
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text: the check of the notification reports it
      }
      endpoint.notifications.push({ path: url.pathname, contentType: String(req.headers['content-type'] ?? ''), body });
      res.writeHead(202).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return endpoint;
}
