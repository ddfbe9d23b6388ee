/**
 * The connector's EWS client against a test sandbox: a Basic transport that checks every request body against
 * Microsoft's schemas as it is sent (the connector must never send what Exchange would refuse), and the
 * sandbox's service account as the credentials.
 */
import type { HttpRequest, HttpResponse, HttpStreamResponse, HttpTransport } from '../../src/connectors/ews/transport/types.js';
import { EwsClient, type EwsClientOptions } from '../../src/connectors/ews/client.js';
import { validateEwsEnvelope } from '../../src/xml/ews-schema.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import type { AuthMethod } from '../../src/connectors/ews/transport/types.js';
import type { TestSandbox } from './sandbox.js';

export interface CheckedRequest {
  url: string;
  headers: Record<string, string>;
  concurrencyKey: string | undefined;
  body: string;
  violation: string | null;
}

/** Wraps a transport: every request body is validated and kept, with its headers. */
export class SchemaCheckingTransport implements HttpTransport {
  readonly requests: CheckedRequest[] = [];
  constructor(private readonly inner: HttpTransport) {}

  private check(req: HttpRequest): void {
    const body = req.body === undefined ? '' : req.body.toString();
    // A request without a body (the https check's GET, a redirect probe) has nothing to validate.
    const violation = body === '' ? null : validateEwsEnvelope(body);
    this.requests.push({ url: req.url, headers: { ...req.headers }, concurrencyKey: req.concurrencyKey, body, violation: violation ? `${violation.message} (line ${violation.line})` : null });
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

/**
 * The connector's client for the sandbox's service account, over the connector's own transport (the sandbox's
 * host names mapped to loopback as --resolve does, its CA trusted), every request schema-checked.
 */
export function sandboxClient(
  t: TestSandbox,
  options: Partial<EwsClientOptions> & { method?: AuthMethod } = {},
): { client: EwsClient; transport: SchemaCheckingTransport } {
  const port = t.info.listen.port;
  const inner = createHttpTransport({ trustedCaPem: t.sandbox.pki.caCertPem, resolve: t.info.hosts.map((h) => `${h}:${port}:127.0.0.1`), timeoutMs: 20_000 });
  const transport = new SchemaCheckingTransport(inner);
  const { method = 'basic', ...rest } = options;
  const client = new EwsClient({
    transport,
    url: sandboxEwsUrl(t),
    credentials: { username: t.info.serviceAccount!.username, password: t.password, method },
    ...rest,
  });
  return { client, transport };
}
