/**
 * Reaching a test sandbox the way an administrator reaches a real Exchange before DNS points at it: --resolve
 * entries for its host names (on 443 and on its own port to its HTTPS port, on 80 to its HTTP port) and its CA
 * as the profile's trusted CA. TLS stays verified against the real names.
 */
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import type { TransportOptions } from '../../src/connectors/ews/transport/types.js';
import type { TestSandbox } from './sandbox.js';

export function sandboxResolve(s: TestSandbox): string[] {
  const { port, httpPort } = s.info.listen;
  return s.info.hosts.flatMap((h) => [
    `${h}:443:127.0.0.1:${port}`,
    `${h}:${port}:127.0.0.1:${port}`,
    ...(httpPort ? [`${h}:80:127.0.0.1:${httpPort}`, `${h}:${httpPort}:127.0.0.1:${httpPort}`] : []),
  ]);
}

export function sandboxTransportOptions(s: TestSandbox, extra: TransportOptions = {}): TransportOptions {
  return { trustedCaPem: s.sandbox.pki.caCertPem, resolve: sandboxResolve(s), timeoutMs: 20_000, connectTimeoutMs: 5_000, ...extra };
}

export function sandboxTransport(s: TestSandbox, extra: TransportOptions = {}) {
  return createHttpTransport(sandboxTransportOptions(s, extra));
}
