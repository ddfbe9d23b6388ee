/** The sync engine as its hosts (`liaison serve`, `liaison worker`, the bench, tests) start and watch it. */
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { SyncStore } from './ports.js';

export type EngineEvent =
  | {
      type: 'cycle';
      mailboxId: string;
      address: string;
      direction: 'incoming' | 'outgoing';
      status: 'success' | 'failure' | 'throttled';
      durationMs: number;
      counts: { tracked: number; linked: number; filtered: number; failed: number; sent: number };
    }
  | {
      type: 'tracked';
      mailboxId: string;
      address: string;
      activityId: string;
      subject: string;
      from: string;
      linked: boolean;
      /** When the server received the message: arrival-to-activity latency is measured from it. */
      receivedAt?: string;
    }
  | { type: 'sent'; mailboxId: string; address: string; activityId: string; subject: string; to: string[] }
  | { type: 'failure'; mailboxId: string | null; address: string | null; code: string; message: string }
  | { type: 'lease-lost'; mailboxId: string }
  /** A missing-mail audit ended (src/sync/audit.ts). */
  | { type: 'audit'; mailboxId: string; address: string; status: 'completed' | 'failed'; onServer: number; missing: number };

export interface EngineOptions {
  sync: SyncStore;
  connectors: ConnectorRegistry;
  /** `--resolve` entries the connectors use. */
  resolve: readonly string[];
  /** The public URL and notification key connectors with server push (Graph) subscribe with; absent: polling. */
  pushEndpoint?: { publicUrl: string; key: Buffer };
  /** Unique per process; default host name, pid and a random part. */
  workerId?: string;
  /** How long a lease lasts without renewal; default 60 s. */
  leaseMs?: number;
  /** Mailboxes this worker cycles at once; default 16. */
  concurrency?: number;
  /** Push notifications where the connector has them; default true. */
  push?: boolean;
  /** The shortest time between two cycles of one mailbox when the profile says 0 minutes; default 5 s. */
  pollFloorMs?: number;
  onEvent?: (event: EngineEvent) => void;
  now?: () => Date;
  /** How often each mailbox's missing-mail audit runs; default daily (DEFAULT_AUDIT_INTERVAL_MS), 0: on demand only. */
  auditIntervalMs?: number;
  /**
   * How long an email whose send attempt may have reached the server is left in sending before Sent Items is looked
   * at again and it may be resent; default several of the profile's request timeouts (outgoing.ts sendSettleMs).
   */
  sendSettleMs?: number;
  /** The first wait after a temporary refusal of one email, multiplied by 4 each attempt; default 30 s. */
  sendRetryBaseMs?: number;
}

export interface SyncEngine {
  readonly workerId: string;
  /** Starts claiming and cycling mailboxes. */
  start(): void;
  /** Stops claiming, finishes the cycles in hand, releases every lease, closes connectors and push feeds. */
  stop(): Promise<void>;
}
