/**
 * The engine against a test sandbox: a profile for the sandbox's service account (Autodiscover, its CA
 * trusted, --resolve entries for its names), mailboxes of its own made through the control API, the real EWS
 * connector, and the events the engine emits, kept for assertions.
 */
import { defaultConnectors } from '../../src/connectors/index.js';
import type { Profile } from '../../src/store/profiles.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { EngineEvent, EngineOptions, SyncEngine } from '../../src/sync/engine-types.js';
import type { SyncStore } from '../../src/sync/ports.js';
import { MemorySyncStore, testProfile } from './memory-sync-store.js';
import { sandboxResolve } from './sandbox-connect.js';
import type { TestSandbox } from './sandbox.js';

let mailboxCounter = 0;

export async function newSandboxMailbox(s: TestSandbox, local = 'engine'): Promise<string> {
  mailboxCounter += 1;
  const address = `${local}${mailboxCounter}-${process.pid}@${s.info.domain}`;
  const made = await s.control('POST', '/mailboxes', { address, displayName: `Engine test ${mailboxCounter}` });
  if (made.status >= 300) throw new Error(`could not create ${address}: ${JSON.stringify(made.json)}`);
  return address;
}

export async function deliver(s: TestSandbox, to: string, message: { subject: string; from?: string; messageId?: string; receivedAt?: string; body?: string; corrupt?: boolean }): Promise<void> {
  const answer = await s.control('POST', `/mailboxes/${encodeURIComponent(to)}/messages`, {
    from: message.from ?? `sender@fabrikam.test`,
    to: [to],
    subject: message.subject,
    body: message.body ?? `Body of ${message.subject}`,
    ...(message.messageId ? { messageId: message.messageId } : {}),
    ...(message.receivedAt ? { receivedAt: message.receivedAt } : {}),
    ...(message.corrupt ? { corrupt: true } : {}),
  });
  if (answer.status >= 300) throw new Error(`could not deliver to ${to}: ${JSON.stringify(answer.json)}`);
}

export async function folderItems(s: TestSandbox, address: string, folder: string): Promise<Array<{ itemId: string; subject: string; internetMessageId: string }>> {
  const answer = await s.control<Array<{ itemId: string; subject: string; internetMessageId: string }> | { items: Array<{ itemId: string; subject: string; internetMessageId: string }> }>(
    'GET',
    `/mailboxes/${encodeURIComponent(address)}/folders/${encodeURIComponent(folder)}/items`,
  );
  if (answer.status >= 300) throw new Error(`could not list ${folder} of ${address}: ${JSON.stringify(answer.json)}`);
  return Array.isArray(answer.json) ? answer.json : answer.json.items;
}

export function sandboxProfile(s: TestSandbox, over: Partial<Profile> = {}): Profile {
  return testProfile({ username: s.info.serviceAccount!.username, trustedCaPem: s.sandbox.pki.caCertPem, requestTimeoutSeconds: 10, ...over });
}

export interface EngineRun {
  engine: SyncEngine;
  events: EngineEvent[];
  stop(): Promise<void>;
}

export function runEngine(s: TestSandbox, sync: SyncStore, over: Partial<EngineOptions> = {}): EngineRun {
  const events: EngineEvent[] = [];
  const engine = createSyncEngine({
    sync,
    connectors: defaultConnectors(),
    resolve: sandboxResolve(s),
    pollFloorMs: 100,
    leaseMs: 10_000,
    push: false,
    // The sandbox's faults cut or delay a request and nothing carries it out later unless a test says so: the
    // tests of a late-completing send (soak-findings, engine-delivery-uncertain) set their own settling time.
    sendSettleMs: 0,
    sendRetryBaseMs: 0,
    ...over,
    onEvent: (event) => {
      events.push(event);
      over.onEvent?.(event);
    },
  });
  engine.start();
  return { engine, events, stop: () => engine.stop() };
}

/** Waits for a condition with a generous deadline, saying what it waited for when it gives up. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { MemorySyncStore };
