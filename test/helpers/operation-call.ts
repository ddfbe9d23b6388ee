/**
 * Runs one EWS operation of the connector against the sandbox: its request body in an envelope (impersonating
 * a mailbox), checked against Microsoft's schemas before it is sent, and the answer's response element handed
 * to the operation's reader. For tests of operations before and besides the connector's client.
 */
import assert from 'node:assert/strict';
import type { EwsOperation } from '../../src/connectors/ews/operations/operation.js';
import type { ExchangeVersion } from '../../src/connectors/ews/versions.js';
import { validateEwsEnvelope } from '../../src/xml/ews-schema.js';
import { NS } from '../../src/xml/namespaces.js';
import { child, textOf } from '../../src/xml/parse.js';
import { envelope, type TestSandbox } from './sandbox.js';

export interface OperationCallOptions {
  /** The mailbox impersonated (default alice@<domain>). */
  as?: string;
  version?: ExchangeVersion;
}

/** The envelope the test sends for an operation's request (validated). */
export function operationEnvelope<Req>(operation: EwsOperation<Req, unknown>, request: Req, as: string, version: ExchangeVersion): string {
  const text = envelope(operation.build(request, { version }), { as, version });
  assert.equal(validateEwsEnvelope(text), null, `the ${operation.name} request does not validate:\n${text}`);
  return text;
}

export async function callOperation<Req, Res>(s: TestSandbox, operation: EwsOperation<Req, Res>, request: Req, options: OperationCallOptions = {}): Promise<Res> {
  const version = options.version ?? 'Exchange2013_SP1';
  const as = options.as ?? `alice@${s.info.domain}`;
  const text = operationEnvelope(operation, request, as, version);
  const answer = await s.post(`mail.${s.info.domain}`, '/EWS/Exchange.asmx', text);
  const body = child(answer.doc(), NS.soap, 'Body');
  const fault = child(body, NS.soap, 'Fault');
  if (fault) throw new Error(`${operation.name}: SOAP fault ${textOf(child(fault, '', 'faultcode'))}: ${textOf(child(fault, '', 'faultstring'))}`);
  const response = child(body, NS.messages, `${operation.name}Response`);
  assert.ok(response, `no ${operation.name}Response in the answer (HTTP ${answer.status}):\n${answer.text.slice(0, 1000)}`);
  return operation.read(response, { version, operation: operation.name, httpStatus: answer.status });
}
