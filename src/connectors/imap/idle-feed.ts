/**
 * Push over IMAP: one connection per watched mailbox, its Inbox selected, in IDLE (RFC 2177). An untagged EXISTS
 * is new mail: the engine is told, and runs the mailbox's cycle at once. Each connection holds a server process and
 * a socket, so a worker watches at most `maxConnections` mailboxes (the first, in address order); covers() says
 * no for the others, which keep polling at full speed. A dropped connection is opened again with back-off; IDLE is
 * renewed well inside the 30 minutes after which RFC 2177 lets a server drop it. The feed only says "something
 * changed": polling stays the source of truth.
 */
import { ImapFlow } from 'imapflow';
import type { ChangeFeed, ChangeFeedEvents, ClassifiedError } from '../connector.js';
import type { MailLogin } from '../mail/credentials.js';
import type { MailEndpoint } from '../mail/endpoint.js';
import { imapClientOptions } from './session.js';

export interface IdleFeedOptions {
  endpoint: MailEndpoint;
  trustedCaPem: string | null;
  timeoutMs: number;
  maxConnections: number;
  loginOf(address: string): Promise<MailLogin>;
  classify(error: unknown): ClassifiedError;
  events: ChangeFeedEvents;
  /** Back-off after a failure, doubling up to the maximum. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** IDLE is ended and started again this often (RFC 2177: servers may drop an IDLE after 30 minutes). */
  renewMs?: number;
}

interface Watch {
  address: string;
  client: ImapFlow | null;
  stopped: boolean;
  timer: NodeJS.Timeout | null;
  failures: number;
}

export class IdleFeed implements ChangeFeed {
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  constructor(private readonly options: IdleFeedOptions) {}

  watch(addresses: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Set([...new Set(addresses.map((a) => a.toLowerCase()))].sort().slice(0, Math.max(0, this.options.maxConnections)));
    for (const [address, watch] of this.watches) {
      if (!wanted.has(address)) {
        this.stop(watch);
        this.watches.delete(address);
      }
    }
    for (const address of wanted) {
      if (this.watches.has(address)) continue;
      const watch: Watch = { address, client: null, stopped: false, timer: null, failures: 0 };
      this.watches.set(address, watch);
      void this.run(watch);
    }
  }

  covers(address: string): boolean {
    return this.watches.has(address.toLowerCase());
  }

  private stop(watch: Watch): void {
    watch.stopped = true;
    if (watch.timer) clearTimeout(watch.timer);
    const client = watch.client;
    watch.client = null;
    if (client) void client.logout().catch(() => client.close());
  }

  private async run(watch: Watch): Promise<void> {
    const { endpoint, trustedCaPem, timeoutMs } = this.options;
    try {
      const login = await this.options.loginOf(watch.address);
      const client = new ImapFlow({ ...imapClientOptions(endpoint, login, trustedCaPem, timeoutMs), disableAutoIdle: false, maxIdleTime: this.options.renewMs ?? 10 * 60_000 });
      client.on('error', () => undefined);
      watch.client = client;
      await client.connect();
      if (watch.stopped) {
        await client.logout().catch(() => client.close());
        return;
      }
      await client.mailboxOpen('INBOX', { readOnly: true });
      watch.failures = 0;
      client.on('exists', () => this.options.events.onChange(watch.address));
      // Mail that came while no connection was watching (before the first, or while it was down) is told too.
      this.options.events.onChange(watch.address);
      // imapflow keeps the selected folder in IDLE (auto-idle), renewing it every maxIdleTime.
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      void client.idle().catch(() => undefined);
      await closed;
      if (watch.stopped) return;
      throw Object.assign(new Error(`the IDLE connection for ${watch.address} was closed`), { code: 'NoConnection' });
    } catch (error) {
      if (watch.stopped || this.closed) return;
      watch.client?.close();
      watch.client = null;
      watch.failures += 1;
      this.options.events.onError?.(watch.address, this.options.classify(error));
      const initial = this.options.retryInitialMs ?? 1000;
      const delay = Math.min(this.options.retryMaxMs ?? 5 * 60_000, initial * 2 ** Math.min(watch.failures - 1, 16));
      watch.timer = setTimeout(() => {
        watch.timer = null;
        if (!watch.stopped && !this.closed) void this.run(watch);
      }, delay);
      watch.timer.unref?.();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const watch of this.watches.values()) this.stop(watch);
    this.watches.clear();
  }
}
