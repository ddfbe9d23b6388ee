/**
 * The Graph session of one diagnostic run: the connector's own token provider and Graph client (no second HTTP
 * client), over one transport with the target's CA, `--resolve` overrides and timeout, closed when the run ends.
 * The token provider is made on the first token() so that a certificate the profile holds but MSAL cannot use is
 * step 1's failure, said as such, not a fault before any step.
 */
import { GraphClient } from '../connectors/graph/client.js';
import { GraphMailboxSession } from '../connectors/graph/mailbox.js';
import { UNDELIVERABLE_PATH } from '../sync/incoming.js';
import { GraphTokens } from '../connectors/graph/token.js';
import { createHttpTransport } from '../connectors/ews/transport/http.js';
import type { GraphSession } from './graph.js';
import type { GraphTarget } from './service.js';

export function defaultGraphSession(target: GraphTarget): GraphSession {
  const transport = createHttpTransport({
    trustedCaPem: target.trustedCaPem,
    resolve: target.resolve,
    timeoutMs: target.timeoutMs,
    connectTimeoutMs: Math.min(target.timeoutMs, 30_000),
  });
  let tokens: GraphTokens | null = null;
  const provider = (): GraphTokens =>
    (tokens ??= new GraphTokens({
      authority: target.authority,
      tenantId: target.tenantId,
      clientId: target.clientId,
      ...(target.clientSecret ? { clientSecret: target.clientSecret } : {}),
      ...(target.certificatePem ? { certificatePem: target.certificatePem } : {}),
      graphUrl: target.graphUrl,
      resolve: target.resolve,
      ...(target.trustedCaPem ? { ca: target.trustedCaPem } : {}),
      transport,
      timeoutMs: target.timeoutMs,
    }));
  // A diagnosis wants the first answer, not one after waiting out throttling: short waits only, one retry.
  const client = new GraphClient({ graphUrl: target.graphUrl, tokens: { token: (options) => provider().token(options) }, transport, maxRetries: 1, maxRetryWaitMs: 2_000, deadlineMs: 2 * target.timeoutMs });
  return {
    token: () => provider().token(),
    get: (path) => client.json({ method: 'GET', path, mailbox: target.email, operation: `GET ${path.split('?')[0]!.replace(/^users\/[^/]+/, 'users/{u}')}` }),
    ensureUndeliverable: async () => {
      // The connector's own folder code: the folder Test & Enable makes is the one the engine moves failed mail to.
      const mailbox = new GraphMailboxSession(target.email, client, async () => false);
      return (await mailbox.ensureFolder(UNDELIVERABLE_PATH, 'inbox')).created;
    },
    close: async () => {
      await tokens?.close();
      await transport.close();
    },
  };
}
