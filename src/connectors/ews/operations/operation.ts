/**
 * One EWS operation: how its request body is written and how its answer is read. Each operation is one file
 * in this folder; the client (../client.ts) wraps the body in the envelope, sends it and hands the answer's
 * `m:<Name>Response` element to `read`.
 */
import type { XmlElement } from '../../../xml/parse.js';
import type { ExchangeVersion } from '../versions.js';

export interface BuildContext {
  version: ExchangeVersion;
}

export interface ReadContext {
  version: ExchangeVersion;
  operation: string;
  httpStatus: number;
}

export interface EwsOperation<Request, Result> {
  /** The operation's name, as in services.wsdl: 'GetFolder'. */
  readonly name: string;
  /** The oldest RequestServerVersion that has it. */
  readonly minVersion?: ExchangeVersion;
  /** The body's payload: one `m:<Name>` element, with m: and t: prefixes (declared on the envelope). */
  build(request: Request, context: BuildContext): string;
  /** Reads the `m:<Name>Response` element. Per-item errors become EwsResponseError (thrown, or in the results). */
  read(response: XmlElement, context: ReadContext): Result;
}
