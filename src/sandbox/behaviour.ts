/**
 * How the sandbox behaves, switchable at run time through the control API: authentication, Exchange's
 * throttling budgets, and faults injected into the next requests.
 */
import { randomUUID } from 'node:crypto';

export interface SandboxSettings {
  /** Basic authentication on. Off, the server offers only Negotiate and NTLM, as an Exchange without Basic does. */
  basicAuth: boolean;
  /** EWSMaxConcurrency: requests one account may have in flight at once (27 from Exchange 2013 on). */
  concurrencyLimit: number;
  /** HangingConnectionLimit: streaming-notification connections one account may hold open. */
  hangingConnectionLimit: number;
  /** ConcurrentSyncCalls: sync calls one account may have in flight at once; null for no limit (Exchange 2013). */
  concurrentSyncCallsLimit: number | null;
  /** The BackOffMilliseconds that throttling answers carry. */
  backOffMilliseconds: number;
  /** Whether http://autodiscover.<domain>/autodiscover/autodiscover.xml answers with a 302 to the HTTPS endpoint. */
  autodiscoverHttpRedirect: boolean;
  /** Seconds between keep-alive documents on a streaming-notification connection. */
  streamingKeepAliveSeconds: number;
  /**
   * Extended Protection for Authentication on NTLM: `require` refuses an AUTHENTICATE without the channel bindings
   * of the TLS connection, `allow` refuses only wrong ones, `none` does not look. Basic is not affected.
   */
  extendedProtection: 'none' | 'allow' | 'require';
  /**
   * Whether a server passes a request for a mailbox the other server holds on to it when X-AnchorMailbox names
   * the mailbox (as Exchange 2013+ front ends do within a site). Off: it answers ErrorMailboxMoveInProgress
   * whatever the headers say, as across sites or forests, so that only Autodiscover finds the mailbox again.
   */
  proxyBetweenServers: boolean;
  /** Graph: how long the token endpoint's access tokens last (Azure AD: 3599 s, give or take). */
  graphTokenLifetimeSeconds: number;
  /** Graph: the Retry-After (seconds) that throttling faults and the concurrency limit answer with. */
  graphRetryAfterSeconds: number;
  /** Graph: requests one app may have in flight against one mailbox (Exchange Online: 4); beyond, 429. */
  graphConcurrencyLimit: number;
  /** Graph: how long a delta token stays valid, in seconds; null for ever. Beyond, 410 SyncStateNotFound. */
  graphDeltaTokenLifetimeSeconds: number | null;
  /** Graph: accept http:// notification URLs on loopback hosts (real Graph demands https). */
  graphAllowHttpNotificationUrl: boolean;
}

export const DEFAULT_SETTINGS: SandboxSettings = {
  basicAuth: true,
  concurrencyLimit: 27,
  hangingConnectionLimit: 10,
  concurrentSyncCallsLimit: null,
  backOffMilliseconds: 5000,
  autodiscoverHttpRedirect: true,
  streamingKeepAliveSeconds: 30,
  extendedProtection: 'none',
  proxyBetweenServers: true,
  graphTokenLifetimeSeconds: 3599,
  graphRetryAfterSeconds: 2,
  graphConcurrencyLimit: 4,
  graphDeltaTokenLifetimeSeconds: null,
  graphAllowHttpNotificationUrl: true,
};

/**
 * `drop` cuts the connection before the request is carried out; `dropAfter` carries it out (a CreateItem sends
 * and saves to Sent Items) and then cuts the connection before the answer: the client cannot tell which happened.
 */
export const FAULT_KINDS = ['http503', 'serverBusy', 'concurrentSyncCalls', 'slow', 'drop', 'dropAfter', 'malformed', 'http429', 'expireDelta'] as const;
/**
 * The kinds the EWS side carries out (http429 and expireDelta are the Graph side's: a 429 with Retry-After, and
 * the next delta request with a token answering 410 SyncStateNotFound).
 */
export const EWS_FAULT_KINDS: readonly FaultKind[] = ['http503', 'serverBusy', 'concurrentSyncCalls', 'slow', 'drop', 'dropAfter', 'malformed'];
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  id: string;
  kind: FaultKind;
  /** Only requests for this EWS operation (e.g. SyncFolderItems), or 'autodiscover'. */
  operation: string | null;
  /** Only requests for this mailbox. */
  mailbox: string | null;
  /** Only requests to this host name. */
  host: string | null;
  /** How many more requests it affects; null until removed. */
  remaining: number | null;
  /** For slow: how long to wait before answering. */
  delayMs: number;
  /** For serverBusy and concurrentSyncCalls: the back-off hint to send. */
  backOffMilliseconds: number | null;
}

export interface FaultInput {
  kind: FaultKind;
  operation?: string | null;
  mailbox?: string | null;
  host?: string | null;
  times?: number | null;
  delayMs?: number;
  backOffMilliseconds?: number | null;
}

export class Faults {
  readonly rules: FaultRule[] = [];

  add(input: FaultInput): FaultRule {
    const rule: FaultRule = {
      id: randomUUID(),
      kind: input.kind,
      operation: input.operation ?? null,
      mailbox: input.mailbox?.toLowerCase() ?? null,
      host: input.host?.toLowerCase() ?? null,
      remaining: input.times ?? null,
      delayMs: input.delayMs ?? 2000,
      backOffMilliseconds: input.backOffMilliseconds ?? null,
    };
    this.rules.push(rule);
    return rule;
  }

  remove(id: string): boolean {
    const index = this.rules.findIndex((r) => r.id === id);
    if (index < 0) return false;
    this.rules.splice(index, 1);
    return true;
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** The first rule that applies to this request, counted as used. */
  take(request: { operation: string; mailbox: string | null; host: string }, kinds: readonly FaultKind[] = EWS_FAULT_KINDS): FaultRule | undefined {
    const rule = this.rules.find(
      (r) =>
        kinds.includes(r.kind) &&
        (r.operation === null || r.operation.toLowerCase() === request.operation.toLowerCase()) &&
        (r.mailbox === null || r.mailbox === request.mailbox?.toLowerCase()) &&
        (r.host === null || r.host === request.host.toLowerCase()),
    );
    if (!rule) return undefined;
    if (rule.remaining !== null) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.remove(rule.id);
    }
    return rule;
  }
}
