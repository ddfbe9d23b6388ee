/** What the Graph side keeps while the sandbox runs: its directory, its URLs, requests in flight, subscriptions. */
import type { SandboxRuntime } from '../runtime.js';
import { GraphDirectory } from './directory.js';
import { GraphSubscriptions } from './subscriptions.js';

export class GraphService {
  readonly directory: GraphDirectory;
  /** Requests in flight per app and mailbox (`<clientId>|<address>`). */
  readonly inFlight = new Map<string, number>();
  readonly subscriptions: GraphSubscriptions;

  constructor(
    readonly runtime: SandboxRuntime,
    readonly hosts: { graph: string; login: string },
  ) {
    this.directory = new GraphDirectory(runtime.state);
    this.subscriptions = new GraphSubscriptions(this);
  }

  /** https://graph.<domain>:<port> */
  graphUrl(): string {
    return this.runtime.baseUrl(this.hosts.graph);
  }

  /** https://login.<domain>:<port> */
  loginUrl(): string {
    return this.runtime.baseUrl(this.hosts.login);
  }

  authority(): string {
    return `${this.loginUrl()}/${this.directory.tenantId}`;
  }

  close(): void {
    this.subscriptions.close();
  }
}

const services = new WeakMap<SandboxRuntime, GraphService>();

export function registerGraph(runtime: SandboxRuntime, service: GraphService): void {
  services.set(runtime, service);
}

export function graphOf(runtime: SandboxRuntime): GraphService | undefined {
  return services.get(runtime);
}
