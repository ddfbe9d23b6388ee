/**
 * Keeps a lease alive while its cycle runs: renewed every third of its length. When the store says it is gone,
 * or it cannot be renewed before it expires (the store unreachable), the signal aborts with LeaseLostError and
 * the cycle stops writing: another worker may have the mailbox by then.
 */
import { type Lease, LeaseLostError, type SyncStore } from './ports.js';

export class LeaseKeeper {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly sync: SyncStore,
    readonly lease: Lease,
    private readonly leaseMs: number,
    private readonly now: () => Date,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): void {
    const every = Math.max(50, Math.floor(this.leaseMs / 3));
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => {
        this.renewing = null;
      });
    }, every);
  }

  private async renew(): Promise<void> {
    if (this.controller.signal.aborted) return;
    try {
      const renewed = await this.sync.renew(this.lease, this.leaseMs, this.now());
      // The same object travels with every write of the cycle: keep it current.
      Object.assign(this.lease, renewed);
    } catch (error) {
      if (error instanceof LeaseLostError) this.lost(error);
      else if (new Date(this.lease.expiresAt).getTime() <= this.now().getTime()) this.lost(new LeaseLostError(this.lease.mailboxId, this.lease.token));
    }
  }

  lost(error: LeaseLostError): void {
    if (!this.controller.signal.aborted) this.controller.abort(error);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.renewing;
  }
}
