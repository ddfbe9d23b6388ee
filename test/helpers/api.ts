/** An API over a throw-away store, with an administrator and a plain user already holding tokens. */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApi, LOG_REDACT } from '../../src/api/server.js';
import type { DiagnosticsContext } from '../../src/diagnostics/runs.js';
import type { User } from '../../src/store/users.js';
import type { DatabaseKind, TestStore } from './stores.js';

/** What an API token looks like (store/users.ts): lsn_ and 32 random bytes in base64url. */
const API_TOKEN = /lsn_[A-Za-z0-9_-]{43}/;

export interface TestApi {
  app: FastifyInstance;
  t: TestStore;
  admin: User;
  adminToken: string;
  user: User;
  userToken: string;
  /** Every log line the server wrote. */
  logs: string[];
  /** Every response body the tests received, to search for leaked secrets. */
  bodies: string[];
  call(method: InjectOptions['method'], url: string, options?: { token?: string | null; body?: unknown }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function openApi(kind: DatabaseKind, options: { diagnostics?: DiagnosticsContext } = {}): Promise<TestApi> {
  const t = await kind.open();
  const logs: string[] = [];
  const app = await buildApi({
    store: t.store,
    logger: { level: 'trace', redact: LOG_REDACT, stream: { write: (line: string) => void logs.push(line) } },
    diagnostics: options.diagnostics ?? null,
  });
  const admin = await t.store.users.create({ name: 'Ada Admin', email: 'admin@contoso.test', isAdmin: true });
  const user = await t.store.users.create({ name: 'Uma User', email: 'uma@contoso.test' });
  const adminToken = (await t.store.tokens.issue(admin.id)).token;
  const userToken = (await t.store.tokens.issue(user.id)).token;
  const bodies: string[] = [];
  return {
    app,
    t,
    admin,
    adminToken,
    user,
    userToken,
    logs,
    bodies,
    async call(method, url, options = {}) {
      const token = options.token === undefined ? adminToken : options.token;
      const response = await app.inject({
        method,
        url,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(options.body !== undefined ? { payload: options.body as never } : {}),
      });
      bodies.push(response.body);
      return response;
    },
    async close() {
      await app.close();
      await t.cleanup();
      // Every suite's log is checked too: an API token is never logged, whatever the suite did.
      const leaked = logs.filter((line) => API_TOKEN.test(line));
      if (leaked.length > 0) throw new Error(`an API token reached the server log (test/secrets-leak.test.ts describes the guarantee):\n${leaked.slice(0, 3).join('')}`);
    },
  };
}
