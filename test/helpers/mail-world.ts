/**
 * A world for the engine against the real test Dovecot and Postfix (mail-servers.ts): a fresh store, an IMAP/SMTP
 * or POP3/SMTP profile whose master user logs in for every mailbox (the way the commercial component's
 * "credentials from the profile" works against Dovecot), N Dovecot users whose mailboxes are enabled, and engines
 * started on that store with every event kept.
 */
import { defaultConnectors } from '../../src/connectors/index.js';
import type { ProfileInput } from '../../src/domain/profile.js';
import type { Profile } from '../../src/store/profiles.js';
import type { Store } from '../../src/store/store.js';
import type { User } from '../../src/store/users.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { EngineEvent, EngineOptions, SyncEngine } from '../../src/sync/engine-types.js';
import type { IncomingFilterOption } from '../../src/sync/ports.js';
import type { MailServers, MailUser } from './mail-servers.js';
import { type DatabaseKind, sqlite, type TestStore } from './stores.js';
import { createEnabledMailboxes, type WorldMailbox } from './sync.js';

export interface MailWorldOptions {
  kind?: DatabaseKind;
  serverType: 'imap-smtp' | 'pop3-smtp';
  mailboxes: number;
  profile?: Partial<ProfileInput>;
  filter?: IncomingFilterOption;
}

export interface MailWorld {
  servers: MailServers;
  db: TestStore;
  store: Store;
  owner: User;
  profile: Profile;
  mailboxes: Array<WorldMailbox & { user: MailUser }>;
  events: EngineEvent[];
  startEngine(overrides?: Partial<EngineOptions>): SyncEngine;
  close(): Promise<void>;
}

let worlds = 0;

export async function openMailWorld(servers: MailServers, options: MailWorldOptions): Promise<MailWorld> {
  worlds += 1;
  const tag = `w${process.pid}x${worlds}`;
  const db = await (options.kind ?? sqlite).open();
  const store = db.store;
  const engines: SyncEngine[] = [];
  try {
    const users: MailUser[] = [];
    for (let i = 0; i <= options.mailboxes; i += 1) users.push(await servers.addUser(`${tag}-box${i + 1}`));
    const ownerUser = users.pop()!;
    const owner = await store.users.create({ name: 'Profile Owner', email: ownerUser.address, isAdmin: true });
    const pop3 = options.serverType === 'pop3-smtp';
    const profile = await store.profiles.create({
      name: pop3 ? 'Test POP3' : 'Test IMAP',
      serverType: options.serverType,
      // The test ports are not the well-known ones: the scheme says which TLS each speaks.
      incomingServer: pop3 ? `pop3s://${servers.host}:${servers.ports.pop3s}` : `imaps://${servers.host}:${servers.ports.imaps}`,
      outgoingServer: `smtp://${servers.host}:${servers.ports.submission}`,
      username: servers.master.username,
      password: servers.master.password,
      credentialSource: 'profile',
      trustedCaPem: servers.caPem,
      requestTimeoutSeconds: 20,
      ownerId: owner.id,
      ...options.profile,
    });
    const filter = options.filter ?? 'all';
    await store.users.update(owner.id, { incomingFilter: filter });
    const enabled = await createEnabledMailboxes(store, profile.id, users.map((u) => u.address), filter);
    const events: EngineEvent[] = [];
    return {
      servers,
      db,
      store,
      owner,
      profile,
      mailboxes: enabled.map((m, i) => ({ ...m, user: users[i]! })),
      events,
      startEngine(overrides = {}) {
        const engine = createSyncEngine({
          sync: store.sync,
          connectors: defaultConnectors(),
          resolve: servers.resolve,
          leaseMs: 5_000,
          pollFloorMs: 200,
          push: false,
          ...overrides,
          onEvent: (event) => {
            events.push(event);
            overrides.onEvent?.(event);
          },
        });
        engines.push(engine);
        engine.start();
        return engine;
      },
      async close() {
        await Promise.allSettled(engines.map((e) => e.stop()));
        await db.cleanup();
      },
    };
  } catch (error) {
    await Promise.allSettled(engines.map((e) => e.stop()));
    await db.cleanup();
    throw error;
  }
}

/** An RFC 5322 message for deliver(). */
export function message(m: { from: string; to: readonly string[]; subject: string; messageId: string; inReplyTo?: string; references?: readonly string[]; body?: string; date?: Date }): string {
  return [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${m.subject}`,
    `Message-ID: ${m.messageId}`,
    `Date: ${(m.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`] : []),
    ...(m.references?.length ? [`References: ${m.references.join(' ')}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    m.body ?? `Body of ${m.subject}`,
    '',
  ].join('\r\n');
}
