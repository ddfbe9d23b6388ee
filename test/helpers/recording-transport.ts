/**
 * Wraps an HttpTransport and keeps every request it was given, so that tests can check what was sent: the
 * bodies against the docs, and that credentials never went over plain http.
 */
import type { HttpRequest, HttpTransport } from '../../src/connectors/ews/transport/types.js';

export interface SentRequest extends HttpRequest {
  /** Whether the request carried credentials (the transport adds Authorization from them). */
  authorized: boolean;
}

export interface RecordingTransport extends HttpTransport {
  sent: SentRequest[];
}

export function recording(inner: HttpTransport): RecordingTransport {
  const sent: SentRequest[] = [];
  return {
    sent,
    request(request) {
      sent.push({ ...request, authorized: Boolean(request.credentials) });
      return inner.request(request);
    },
    stream(request) {
      sent.push({ ...request, authorized: Boolean(request.credentials) });
      return inner.stream(request);
    },
    close: () => inner.close(),
  };
}
