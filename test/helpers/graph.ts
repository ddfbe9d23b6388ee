/**
 * A world for the Graph end-to-end tests: the sandbox's Graph side (its graph.<domain> URL, its login.<domain>
 * authority, its demo app registration), a store with an exchange-online profile pointing there, N users whose
 * sandbox mailboxes are enabled on it, and engines on that store with every event kept. The same mailboxes are
 * reachable over EWS, so mail is delivered through the sandbox's control API exactly as the EWS tests deliver it.
 *
 * The profile reaches the sandbox the way the EWS profile does (test/helpers/sync.ts createSandboxProfile):
 * `--resolve` entries for the sandbox's host names (graph. and login. among them) and the sandbox CA as the
 * profile's trusted CA; TLS stays verified against the real names.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { defaultConnectors } from '../../src/connectors/index.js';
import type { ProfileInput } from '../../src/domain/profile.js';
import type { Profile } from '../../src/store/profiles.js';
import type { Store } from '../../src/store/store.js';
import type { User } from '../../src/store/users.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { EngineEvent, EngineOptions, SyncEngine } from '../../src/sync/engine-types.js';
import type { IncomingFilterOption, SyncStore } from '../../src/sync/ports.js';
import { loopbackLookup, type TestSandbox } from './sandbox.js';
import { sandboxResolve } from './sandbox-connect.js';
import { sqlite, type DatabaseKind, type TestStore } from './stores.js';
import { createEnabledMailboxes, createSandboxMailboxes, syncStoreOf, type WorldMailbox } from './sync.js';

/** What the sandbox says about its Graph side (GET /_sandbox/ → graph): the demo app is seeded with the demo data. */
export interface GraphSandboxInfo {
  url: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** Where Liaison's API server receives notifications, and the key that signs the subscriptions' clientState. */
export interface PushEndpoint {
  publicUrl: string;
  key: Buffer;
}

export type GraphEngineOptions = Partial<EngineOptions> & { pushEndpoint?: PushEndpoint };

export async function graphInfo(s: TestSandbox): Promise<GraphSandboxInfo> {
  const own = (s.info as { graph?: GraphSandboxInfo }).graph;
  if (own?.url) return own;
  const answer = await s.control<{ graph?: GraphSandboxInfo }>('GET', '/');
  const graph = answer.json?.graph;
  if (!graph?.url || !graph.clientSecret) throw new Error(`the sandbox has no Graph side (its info: ${JSON.stringify(answer.json).slice(0, 500)})`);
  return graph;
}

/** An exchange-online profile for the sandbox's demo app, at its Graph URL, its authority standing in for Azure AD. */
export async function createGraphProfile(store: Store, s: TestSandbox, over: Partial<ProfileInput> & Pick<ProfileInput, 'ownerId'>): Promise<Profile> {
  const g = await graphInfo(s);
  const input = {
    name: 'Graph sandbox',
    serverType: 'exchange-online',
    incomingServer: g.url,
    authority: g.authority,
    tenantId: g.tenantId,
    clientId: g.clientId,
    clientSecret: g.clientSecret,
    trustedCaPem: s.sandbox.pki.caCertPem,
    requestTimeoutSeconds: 20,
    ...over,
  } as ProfileInput;
  return store.profiles.create(input);
}

let worlds = 0;

/** Addresses unique to one world (and short enough for a Graph clientState: at most 63 bytes). */
export function graphAddresses(count: number, tag = 'g'): string[] {
  worlds += 1;
  const prefix = `${tag}${process.pid}x${worlds}`;
  return Array.from({ length: count }, (_, i) => `${prefix}-box${String(i + 1).padStart(3, '0')}@contoso.test`);
}

export interface GraphWorldOptions {
  kind?: DatabaseKind;
  mailboxes: number;
  profile?: Partial<ProfileInput>;
  filter?: IncomingFilterOption;
}

export interface GraphWorld {
  sandbox: TestSandbox;
  graph: GraphSandboxInfo;
  db: TestStore;
  store: Store;
  sync: SyncStore;
  owner: User;
  profile: Profile;
  mailboxes: WorldMailbox[];
  events: EngineEvent[];
  resolve: string[];
  startEngine(overrides?: GraphEngineOptions): SyncEngine;
  /** Stops one engine this world started and forgets it. */
  stopEngine(engine: SyncEngine): Promise<void>;
  close(): Promise<void>;
}

export async function openGraphWorld(s: TestSandbox, options: GraphWorldOptions): Promise<GraphWorld> {
  const db = await (options.kind ?? sqlite).open();
  const store = db.store;
  const engines: SyncEngine[] = [];
  try {
    const graph = await graphInfo(s);
    const sync = syncStoreOf(store);
    const addresses = graphAddresses(options.mailboxes + 1);
    const ownerAddress = addresses.pop()!;
    await createSandboxMailboxes(s, [...addresses, ownerAddress]);
    const owner = await store.users.create({ name: 'Profile Owner', email: ownerAddress, isAdmin: true });
    const profile = await createGraphProfile(store, s, { ownerId: owner.id, ...options.profile });
    const filter = options.filter ?? 'all';
    await store.users.update(owner.id, { incomingFilter: filter });
    const mailboxes = await createEnabledMailboxes(store, profile.id, addresses, filter);
    const events: EngineEvent[] = [];
    const resolve = sandboxResolve(s);
    return {
      sandbox: s,
      graph,
      db,
      store,
      sync,
      owner,
      profile,
      mailboxes,
      events,
      resolve,
      startEngine(overrides = {}) {
        const engine = createSyncEngine({
          sync,
          connectors: defaultConnectors(),
          resolve,
          leaseMs: 5_000,
          pollFloorMs: 200,
          push: false,
          ...overrides,
          onEvent: (event) => {
            events.push(event);
            overrides.onEvent?.(event);
          },
        } as EngineOptions);
        engines.push(engine);
        engine.start();
        return engine;
      },
      async stopEngine(engine) {
        await engine.stop();
        engines.splice(engines.indexOf(engine), 1);
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

// ---- talking to the sandbox's Graph side directly (as an independent check of what the engine did) ----

export interface GraphCaller {
  /** A token for the demo app, from the sandbox's token endpoint. */
  token(): Promise<string>;
  get<T = unknown>(pathname: string, headers?: Record<string, string>): Promise<{ status: number; json: T; text: string }>;
  close(): Promise<void>;
}

/** A bare client of the sandbox's Graph (undici, loopback lookup, the sandbox CA): no Liaison code in between. */
export function graphCaller(s: TestSandbox, g: GraphSandboxInfo): GraphCaller {
  const agent = new Agent({ connect: { ca: s.sandbox.pki.caCertPem, lookup: loopbackLookup } });
  let cached: string | null = null;
  const token = async () => {
    if (cached) return cached;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: g.clientId, client_secret: g.clientSecret, scope: 'https://graph.microsoft.com/.default' });
    const answer = await request(`${g.authority}/oauth2/v2.0/token`, {
      method: 'POST',
      dispatcher: agent,
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const body = (await answer.body.json()) as { access_token?: string };
    if (answer.statusCode !== 200 || !body.access_token) throw new Error(`the sandbox token endpoint answered ${answer.statusCode}: ${JSON.stringify(body)}`);
    cached = body.access_token;
    return cached;
  };
  return {
    token,
    async get(pathname, headers = {}) {
      const answer = await request(`${g.url}${pathname}`, {
        method: 'GET',
        dispatcher: agent,
        headers: { authorization: `Bearer ${await token()}`, 'client-request-id': randomUUID(), ...headers },
      });
      const text = await answer.body.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: answer.statusCode, json: json as never, text };
    },
    close: () => agent.close(),
  };
}

/** The sandbox's Graph subscriptions (GET /_sandbox/graph/subscriptions). */
export interface SandboxGraphSubscription {
  id: string;
  resource: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string | null;
  clientState?: string | null;
  expirationDateTime?: string;
  mailbox?: string;
  [key: string]: unknown;
}

export async function graphSubscriptions(s: TestSandbox): Promise<SandboxGraphSubscription[]> {
  const answer = await s.control<SandboxGraphSubscription[] | { subscriptions: SandboxGraphSubscription[] }>('GET', '/graph/subscriptions');
  if (answer.status !== 200) throw new Error(`the sandbox did not list its Graph subscriptions: ${answer.status} ${JSON.stringify(answer.json)}`);
  return Array.isArray(answer.json) ? answer.json : answer.json.subscriptions;
}

/** Whether a subscription watches this mailbox (its resource names the user by address or id). */
export function subscriptionFor(sub: SandboxGraphSubscription, address: string): boolean {
  const wanted = address.toLowerCase();
  return (sub.mailbox?.toLowerCase() ?? '') === wanted || decodeURIComponent(sub.resource).toLowerCase().includes(wanted);
}
