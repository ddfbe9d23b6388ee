/** What the sandbox's request handlers share: its state, switches, subscriptions and addresses. */
import type { Faults, SandboxSettings } from './behaviour.js';
import type { Subscriptions } from './ews/subscriptions.js';
import type { ServerName } from './state/model.js';
import type { SandboxState } from './state/sandbox-state.js';

/** One request and its answer, as the sandbox saw them: for tests that check traffic against the schemas. */
export interface ExchangeRecord {
  surface: 'ews' | 'autodiscover-pox' | 'autodiscover-soap';
  operation: string;
  host: string;
  status: number;
  request: string;
  /** The response body; for a streaming response, each document in turn. */
  response: string[];
  /** Whether the sandbox accepted the request (false: refused with a fault, or not XML at all). */
  accepted: boolean;
}

export interface SandboxRuntime {
  readonly domain: string;
  readonly state: SandboxState;
  readonly settings: SandboxSettings;
  readonly faults: Faults;
  readonly subscriptions: Subscriptions;
  /** Requests in flight per account (EWSMaxConcurrency) and sync calls in flight per account (ConcurrentSyncCalls). */
  readonly inFlight: Map<string, number>;
  readonly syncInFlight: Map<string, number>;
  /** The base URL (https://host:port) of a host name. */
  baseUrl(host: string): string;
  /** The EWS URL of one of the two Exchange servers. */
  ewsUrl(server: ServerName): string;
  /** The host name of each Exchange server. */
  serverHost(server: ServerName): string;
  /** Which Exchange server a host name is, if any. */
  serverOf(host: string): ServerName | null;
  onExchange: ((record: ExchangeRecord) => void) | null;
  log(message: string): void;
}

/** Response headers Exchange 2016 on IIS sends with every EWS answer. */
export function exchangeHeaders(runtime: SandboxRuntime, server: ServerName | null): Record<string, string> {
  const name = server ? runtime.serverHost(server).split('.')[0]!.toUpperCase() : 'CAS';
  return {
    'Cache-Control': 'private',
    Server: 'Microsoft-IIS/10.0',
    'request-id': crypto.randomUUID(),
    'X-CalculatedBETarget': server ? runtime.serverHost(server) : '',
    'X-BackEndHttpStatus': '200',
    'X-AspNet-Version': '4.0.30319',
    'X-FEServer': name,
    'X-BEServer': name,
    'X-Powered-By': 'ASP.NET',
  };
}
