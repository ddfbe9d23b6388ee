/** Shared by the Graph connector tests: a demo sandbox and an Exchange Online connector pointed at it. */
import { GraphConnector, type GraphConnectorOptions } from '../../../src/connectors/graph/connector.js';
import { sandboxResolve } from '../../helpers/sandbox-connect.js';
import { type GraphSandbox, startGraphSandbox } from '../../sandbox/graph-support.js';

export { type GraphSandbox, startGraphSandbox };

export function connectorFor(s: GraphSandbox, extra: Partial<GraphConnectorOptions> = {}): GraphConnector {
  return new GraphConnector({
    tenantId: s.tenantId,
    clientId: s.clientId,
    clientSecret: s.clientSecret,
    authority: s.info.graph.authority,
    graphUrl: s.graphUrl,
    resolve: sandboxResolve(s),
    trustedCaPem: s.sandbox.pki.caCertPem,
    timeoutMs: 10_000,
    ...extra,
  });
}

/** A message put in a mailbox through the control API; its Message-ID. */
export async function deliver(s: GraphSandbox, to: string, subject: string, extra: Record<string, unknown> = {}): Promise<string> {
  const messageId = `<${subject.replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2)}@fabrikam.test>`;
  const answer = await s.control('POST', `/mailboxes/${to}/messages`, { from: 'jane.doe@fabrikam.test', to: [to], subject, body: `About ${subject}`, messageId, ...extra });
  if (answer.status !== 201) throw new Error(`deliver: ${answer.status} ${JSON.stringify(answer.json)}`);
  return messageId;
}

export function mime(from: string, to: string, subject: string, messageId: string): Buffer {
  return Buffer.from(
    [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: ${messageId}`, 'Date: Thu, 03 Dec 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Hello about ${subject}.`, ''].join('\r\n'),
  );
}
