/**
 * A fake mail server for the missing-mail audit's tests: a change listing that can skip messages (a cursor that
 * lost them), fetch by server id, and a paged inventory, with faults to inject.
 */
import type { ClassifiedError, Connector, InventoryPage, MailboxSession } from '../../src/connectors/connector.js';
import { ConnectorRegistry } from '../../src/connectors/registry.js';

export interface FakeMessage {
  serverId: string;
  messageId: string;
  receivedAt: string;
  subject: string;
}

export class Throttled extends Error {}
export class Denied extends Error {}

export class FakeServer {
  messages: FakeMessage[] = [];
  /** Server ids the change listing never shows (a cursor that skipped them). */
  skipped = new Set<string>();
  fetches: string[][] = [];
  inventories = 0;
  /** Runs before each inventory answer (mail arriving just before the audit). */
  beforeInventory: (() => void) | null = null;
  inventoryError: Error | null = null;
  pageSize = 2;
  /** List everything, whatever `since` says (a server that filters by day only lists some older mail too). */
  ignoreSince = false;

  deliver(n: number, subject = `Message ${n}`, receivedAt = new Date(Date.UTC(2026, 10, 1, 8, n)).toISOString()): FakeMessage {
    const message = { serverId: `id-${n}`, messageId: `<m${n}@fabrikam.test>`, receivedAt, subject };
    this.messages.push(message);
    return message;
  }

  mime(m: FakeMessage): Buffer {
    return Buffer.from(`Message-ID: ${m.messageId}\r\nFrom: sender@fabrikam.test\r\nTo: user@contoso.test\r\nSubject: ${m.subject}\r\nDate: ${new Date(m.receivedAt).toUTCString()}\r\n\r\nHello\r\n`);
  }
}

export function connector(server: FakeServer): Connector {
  const classify = (error: unknown): ClassifiedError => {
    if (error instanceof Throttled) return { kind: 'throttled', code: 'fake.busy', message: 'the server is busy', serverResponse: 'ErrorServerBusy', fix: null, backOffMs: 120_000 };
    if (error instanceof Denied) return { kind: 'permanent', code: 'fake.denied', message: 'access denied', serverResponse: null, fix: 'Grant access.', backOffMs: null };
    return { kind: 'transient', code: 'fake.error', message: String((error as Error)?.message ?? error), serverResponse: null, fix: null, backOffMs: null };
  };
  return {
    serverType: 'fake-mail',
    classify,
    async open(address): Promise<MailboxSession> {
      return {
        address,
        async listChanges(_folder, cursor) {
          const from = cursor === null ? 0 : Number(cursor);
          const changes = server.messages
            .slice(from)
            .filter((m) => !server.skipped.has(m.serverId))
            .map((m) => ({ kind: 'created' as const, serverId: m.serverId, internetMessageId: m.messageId, receivedAt: m.receivedAt }));
          return { changes, cursor: String(server.messages.length), complete: true };
        },
        async fetch(ids) {
          server.fetches.push([...ids]);
          return ids.map((id) => {
            const m = server.messages.find((x) => x.serverId === id);
            return m ? { serverId: id, mime: server.mime(m), internetMessageId: m.messageId, receivedAt: m.receivedAt } : { serverId: id, error: new Error(`no item ${id}`) };
          });
        },
        async inventory(_folder, since, page, max): Promise<InventoryPage> {
          server.inventories += 1;
          server.beforeInventory?.();
          if (server.inventoryError) throw server.inventoryError;
          const all = server.messages.filter((m) => server.ignoreSince || since === null || new Date(m.receivedAt) >= since);
          const start = page === null ? 0 : Number(page);
          const size = Math.min(max, server.pageSize);
          const entries = all.slice(start, start + size).map((m) => ({ serverId: m.serverId, internetMessageId: m.messageId, receivedAt: m.receivedAt, subject: m.subject, from: 'sender@fabrikam.test' }));
          return { entries, next: start + size < all.length ? String(start + size) : null };
        },
        async send() {},
        async findSent() {
          return false;
        },
        async ensureFolder() {
          throw new Error('no folders');
        },
        async move() {
          throw new Error('no folders');
        },
        async waitForChange() {
          return false;
        },
      };
    },
    async close() {},
  };
}


/** A registry whose server type (default exchange, what the store's profiles take) opens the fake server. */
export function fakeRegistry(server: FakeServer, serverType = 'exchange'): ConnectorRegistry {
  return new ConnectorRegistry().register(serverType, () => ({ ...connector(server), serverType }));
}
