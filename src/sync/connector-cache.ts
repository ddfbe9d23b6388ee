/**
 * One connector per profile, built from the profile as saved and built again when the profile changes (its
 * updatedAt), so new credentials or limits apply from the next cycle. A replaced connector is closed once the
 * cycles that hold it are done. The connectors report mailbox locations here: stored on the mailbox, with an
 * information alert.
 */
import type { Connector, LocationEvents, MailboxLocation } from '../connectors/connector.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { EngineEvent } from './engine-types.js';
import type { SyncProfile, SyncStore } from './ports.js';

interface Entry {
  connector: Connector;
  updatedAt: string;
  users: number;
  retired: boolean;
}

export interface ConnectorHold {
  connector: Connector;
  release(): void;
}

export class ConnectorCache {
  private readonly entries = new Map<string, Entry>();
  /** The mailboxes this worker has claimed, by address (lower case): where their locations are cached. */
  private readonly locations = new Map<string, { mailboxId: string; profileId: string; location: MailboxLocation | null }>();
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      sync: SyncStore;
      registry: ConnectorRegistry;
      resolve: readonly string[];
      pushEndpoint?: { publicUrl: string; key: Buffer } | undefined;
      emit: (event: EngineEvent) => void;
    },
  ) {}

  /** Remembers where a claimed mailbox's server is (from the mailbox row) for the connector to use. */
  noteMailbox(mailbox: { id: string; address: string; profileId: string; ewsUrl: string | null; ewsUrlFoundAt: string | null }): void {
    const location = mailbox.ewsUrl ? { url: mailbox.ewsUrl, foundAt: mailbox.ewsUrlFoundAt ?? new Date(0).toISOString() } : null;
    this.locations.set(mailbox.address.toLowerCase(), { mailboxId: mailbox.id, profileId: mailbox.profileId, location });
  }

  /** The profile's connector, built (or rebuilt) as needed; release it when the cycle is done. */
  hold(profile: SyncProfile): ConnectorHold {
    const entry = this.entryFor(profile);
    entry.users += 1;
    let released = false;
    return {
      connector: entry.connector,
      release: () => {
        if (released) return;
        released = true;
        entry.users -= 1;
        if (entry.retired && entry.users === 0) this.close(entry);
      },
    };
  }

  /** The current connector of a profile without holding it (push feeds live as long as it does). */
  current(profile: SyncProfile): Connector {
    return this.entryFor(profile).connector;
  }

  private entryFor({ profile, secrets }: SyncProfile): Entry {
    const existing = this.entries.get(profile.id);
    if (existing && existing.updatedAt === profile.updatedAt) return existing;
    const connector = this.options.registry.create({
      profile,
      secrets,
      resolve: this.options.resolve,
      ...(this.options.pushEndpoint ? { pushEndpoint: this.options.pushEndpoint } : {}),
      events: this.locationEvents(profile.id),
      mailboxLogin: async (address) => {
        const known = this.locations.get(address.toLowerCase());
        return known ? this.options.sync.mailboxLogin(known.mailboxId) : null;
      },
    });
    const entry: Entry = { connector, updatedAt: profile.updatedAt, users: 0, retired: false };
    this.entries.set(profile.id, entry);
    if (existing) {
      existing.retired = true;
      if (existing.users === 0) this.close(existing);
    }
    return entry;
  }

  /** Whether this connector is still the profile's current one. */
  isCurrent(profileId: string, connector: Connector): boolean {
    return this.entries.get(profileId)?.connector === connector;
  }

  private locationEvents(profileId: string): LocationEvents {
    return {
      cachedLocation: (address) => this.locations.get(address.toLowerCase())?.location ?? null,
      onLocationChanged: async (address, location, previous, reason) => {
        const known = this.locations.get(address.toLowerCase());
        if (!known) return;
        known.location = location;
        await this.options.sync.saveLocation(known.mailboxId, location.url, location.foundAt);
        await this.options.sync.raiseAlert({
          level: 'information',
          scope: 'mailbox',
          profileId,
          mailboxId: known.mailboxId,
          code: 'mailbox.location-changed',
          message: previous
            ? `${address} is now served by ${location.url} (it was ${previous.url}): ${reason}`
            : `${address} is served by ${location.url} (found by Autodiscover on ${reason})`,
          fix: null,
        });
      },
    };
  }

  private close(entry: Entry): void {
    const done = entry.connector.close().catch((error: unknown) => {
      this.options.emit({ type: 'failure', mailboxId: null, address: null, code: 'connector.close', message: (error as Error).message });
    });
    this.closing.add(done);
    void done.finally(() => this.closing.delete(done));
  }

  async closeAll(): Promise<void> {
    for (const entry of this.entries.values()) this.close(entry);
    this.entries.clear();
    await Promise.all([...this.closing]);
  }
}
