/**
 * The connector's EWS client against a test sandbox: a Basic transport that checks every request body against
 * Microsoft's schemas as it is sent (the connector must never send what Exchange would refuse), and the
 * sandbox's service account as the credentials.
 */
import type { HttpRequest, HttpResponse, HttpStreamResponse, HttpTransport } from '../../src/connectors/ews/transport/types.js';
import { EwsClient, type EwsClientOptions } from '../../src/connectors/ews/client.js';
import { validateEwsEnvelope } from '../../src/xml/ews-schema.js';
import { BasicTestTransport } from './basic-transport.js';
import type { TestSandbox } from './sandbox.js';

export interface CheckedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  violation: string | null;
}

/** Wraps a transport: every request body is validated and kept, with its headers. */
export class SchemaCheckingTransport implements HttpTransport {
  readonly requests: CheckedRequest[] = [];
  constructor(private readonly inner: HttpTransport) {}

  private check(req: HttpRequest): void {
    const body = req.body === undefined ? '' : req.body.toString();
    const violation = validateEwsEnvelope(body);
    this.requests.push({ url: req.url, headers: { ...req.headers }, body, violation: violation ? `${violation.message} (line ${violation.line})` : null });
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    this.check(req);
    return this.inner.request(req);
  }

  stream(req: HttpRequest): Promise<HttpStreamResponse> {
    this.check(req);
    return this.inner.stream(req);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The requests that did not validate, with the violation. */
  invalid(): CheckedRequest[] {
    return this.requests.filter((r) => r.violation !== null);
  }
}

export function sandboxEwsUrl(t: TestSandbox, host = `mail.${t.info.domain}`): string {
  return `https://${host}:${t.info.listen.port}/EWS/Exchange.asmx`;
}

export function sandboxClient(t: TestSandbox, options: Partial<EwsClientOptions> = {}): { client: EwsClient; transport: SchemaCheckingTransport } {
  const transport = new SchemaCheckingTransport(new BasicTestTransport(t.sandbox.pki.caCertPem));
  const client = new EwsClient({
    transport,
    url: sandboxEwsUrl(t),
    credentials: { username: t.info.serviceAccount!.username, password: t.password, method: 'basic' },
    ...options,
  });
  return { client, transport };
}
