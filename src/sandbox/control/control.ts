/**
 * The control API: plain JSON under /_sandbox/, for people and tests to set the sandbox up and look inside.
 * It shares no path, operation or credential with EWS, so nothing here is reachable through EWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FAULT_KINDS, type FaultInput, type SandboxSettings } from '../behaviour.js';
import { lifecycleFromControl } from '../graph/api.js';
import type { AppInput } from '../graph/directory.js';
import { graphOf, type GraphService } from '../graph/service.js';
import type { SandboxRuntime } from '../runtime.js';
import type { Mailbox } from '../state/mailbox.js';
import { type Address, CORRUPT_ITEM_CODES, type CorruptItemCode, type Folder, SERVER_NAMES, type ServerName } from '../state/model.js';
import { SandboxStateError } from '../state/sandbox-state.js';

type Json = Record<string, unknown>;

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function bad(message: string): never {
  throw new ControlError(400, message);
}

function str(body: Json, key: string, required: true): string;
function str(body: Json, key: string, required?: false): string | undefined;
function str(body: Json, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) bad(`"${key}" is required`);
    return undefined;
  }
  if (typeof value !== 'string') bad(`"${key}" must be a string`);
  return value;
}

function bool(body: Json, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') bad(`"${key}" must be true or false`);
  return value;
}

function int(body: Json, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) bad(`"${key}" must be a whole number from ${min} to ${max}`);
  return value;
}

function server(value: string | undefined): ServerName | undefined {
  if (value === undefined) return undefined;
  if (!SERVER_NAMES.includes(value as ServerName)) bad(`"server" must be one of ${SERVER_NAMES.join(', ')}`);
  return value as ServerName;
}

function addressList(body: Json, key: string): Address[] {
  const value = body[key];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry) => {
    if (typeof entry === 'string') return { name: entry, address: entry };
    if (entry && typeof entry === 'object' && typeof (entry as Json).address === 'string') {
      const address = (entry as Json).address as string;
      return { name: typeof (entry as Json).name === 'string' ? ((entry as Json).name as string) : address, address };
    }
    return bad(`"${key}" must hold addresses: "a@b" or {"name": …, "address": "a@b"}`);
  });
}

function folderPath(mailbox: Mailbox, folder: Folder): string {
  const names: string[] = [];
  let current: Folder | undefined = folder;
  while (current && current.distinguishedId !== 'msgfolderroot' && current.parentId) {
    names.unshift(current.displayName);
    current = mailbox.folders.get(current.parentId);
  }
  return names.join('/');
}

/** A folder by distinguished id ("inbox"), path under the message root ("Inbox/Undeliverable") or id. */
export function findFolder(mailbox: Mailbox, reference: string): Folder {
  const byName = mailbox.distinguishedFolder(reference) ?? mailbox.folder(reference);
  if (byName) return byName;
  let current = mailbox.distinguishedFolder('msgfolderroot');
  for (const part of reference.split('/').filter(Boolean)) {
    current = current ? mailbox.childFolders(current.id).find((f) => f.displayName.toLowerCase() === part.toLowerCase()) : undefined;
  }
  if (!current || current.distinguishedId === 'msgfolderroot') throw new ControlError(404, `${mailbox.address} has no folder "${reference}"`);
  return current;
}

function mailboxOr404(runtime: SandboxRuntime, address: string): Mailbox {
  const mailbox = runtime.state.mailbox(address);
  if (!mailbox) throw new ControlError(404, `no mailbox ${address}`);
  return mailbox;
}

function describeMailbox(runtime: SandboxRuntime, m: Mailbox) {
  return { address: m.address, displayName: m.displayName, server: m.server, ews: runtime.ewsUrl(m.server), aliases: m.data.aliases };
}

function describeItems(mailbox: Mailbox, folder: Folder) {
  return mailbox.liveItems(folder).map((i) => ({
    itemId: i.id,
    subject: i.props.subject,
    internetMessageId: i.props.internetMessageId,
    folder: folderPath(mailbox, folder),
    isRead: i.props.isRead,
    categories: i.props.categories,
    from: i.props.from?.address ?? null,
    receivedAt: i.props.dateTimeReceived,
    ...(i.corrupt ? { corrupt: i.corrupt } : {}),
  }));
}

/** `corrupt`: true (ErrorItemCorrupt) or the per-item error GetItem is to answer for the message's content. */
function corruptCode(value: unknown): CorruptItemCode | undefined {
  if (value === undefined || value === false || value === null) return undefined;
  if (value === true) return 'ErrorItemCorrupt';
  if (typeof value === 'string' && (CORRUPT_ITEM_CODES as readonly string[]).includes(value)) return value as CorruptItemCode;
  return bad(`"corrupt" must be true, false or one of ${CORRUPT_ITEM_CODES.join(', ')}`);
}

async function deliver(runtime: SandboxRuntime, mailbox: Mailbox, body: Json) {
  const folder = findFolder(mailbox, str(body, 'folder') ?? 'inbox');
  const receivedText = str(body, 'receivedAt');
  const received = receivedText ? new Date(receivedText) : new Date();
  if (Number.isNaN(received.getTime())) bad('"receivedAt" must be an ISO 8601 date-time');
  let mime: Buffer;
  const raw = str(body, 'mime');
  const base64 = str(body, 'mimeBase64');
  if (raw !== undefined) mime = Buffer.from(raw.replace(/\r?\n/g, '\r\n'), 'utf8');
  else if (base64 !== undefined) mime = Buffer.from(base64, 'base64');
  else {
    const from = addressList(body, 'from')[0] ?? bad('"from" is required (or give the message as "mime")');
    const attachments = body.attachments === undefined ? [] : Array.isArray(body.attachments) ? body.attachments : bad('"attachments" must be a list');
    mime = await runtime.state.compose({
      from,
      to: addressList(body, 'to'),
      cc: addressList(body, 'cc'),
      subject: str(body, 'subject') ?? '',
      ...(str(body, 'html') !== undefined ? { html: str(body, 'html') } : { text: str(body, 'body') ?? '' }),
      messageId: str(body, 'messageId'),
      inReplyTo: str(body, 'inReplyTo'),
      references: str(body, 'references'),
      date: received,
      attachments: (attachments as Json[]).map((a) => ({
        filename: str(a, 'filename', true),
        contentType: str(a, 'contentType') ?? 'application/octet-stream',
        content: Buffer.from(str(a, 'contentBase64', true), 'base64'),
      })),
    });
  }
  if (mime.length === 0) bad('the message is empty');
  const corrupt = corruptCode(body.corrupt);
  const item = await runtime.state.deliver(mailbox, mime, folder, received, corrupt);
  return {
    itemId: item.id,
    internetMessageId: item.props.internetMessageId,
    subject: item.props.subject,
    folder: folderPath(mailbox, folder),
    ...(corrupt ? { corrupt } : {}),
  };
}

const SETTING_KEYS: Array<keyof SandboxSettings> = [
  'basicAuth',
  'concurrencyLimit',
  'hangingConnectionLimit',
  'concurrentSyncCallsLimit',
  'backOffMilliseconds',
  'autodiscoverHttpRedirect',
  'streamingKeepAliveSeconds',
  'extendedProtection',
  'proxyBetweenServers',
  'graphTokenLifetimeSeconds',
  'graphRetryAfterSeconds',
  'graphConcurrencyLimit',
  'graphDeltaTokenLifetimeSeconds',
  'graphAllowHttpNotificationUrl',
];

function updateSettings(settings: SandboxSettings, body: Json): void {
  for (const key of Object.keys(body)) if (!SETTING_KEYS.includes(key as keyof SandboxSettings)) bad(`"${key}" is not a setting (settings: ${SETTING_KEYS.join(', ')})`);
  const changes: Partial<SandboxSettings> = {};
  const basic = bool(body, 'basicAuth');
  if (basic !== undefined) changes.basicAuth = basic;
  const redirect = bool(body, 'autodiscoverHttpRedirect');
  if (redirect !== undefined) changes.autodiscoverHttpRedirect = redirect;
  const proxy = bool(body, 'proxyBetweenServers');
  if (proxy !== undefined) changes.proxyBetweenServers = proxy;
  const httpNotifications = bool(body, 'graphAllowHttpNotificationUrl');
  if (httpNotifications !== undefined) changes.graphAllowHttpNotificationUrl = httpNotifications;
  if ('graphDeltaTokenLifetimeSeconds' in body) {
    changes.graphDeltaTokenLifetimeSeconds = body.graphDeltaTokenLifetimeSeconds === null ? null : int(body, 'graphDeltaTokenLifetimeSeconds', 0, 365 * 24 * 3600)!;
  }
  for (const [key, min, max] of [
    ['concurrencyLimit', 1, 10000],
    ['hangingConnectionLimit', 1, 10000],
    ['backOffMilliseconds', 0, 3_600_000],
    ['streamingKeepAliveSeconds', 1, 3600],
    ['graphTokenLifetimeSeconds', 1, 86_400],
    ['graphRetryAfterSeconds', 0, 3600],
    ['graphConcurrencyLimit', 1, 10000],
  ] as const) {
    const value = int(body, key, min, max);
    if (value !== undefined) changes[key] = value;
  }
  const protection = str(body, 'extendedProtection');
  if (protection !== undefined) {
    if (!['none', 'allow', 'require'].includes(protection)) bad('"extendedProtection" must be "none", "allow" or "require"');
    changes.extendedProtection = protection as SandboxSettings['extendedProtection'];
  }
  if ('concurrentSyncCallsLimit' in body) changes.concurrentSyncCallsLimit = body.concurrentSyncCallsLimit === null ? null : int(body, 'concurrentSyncCallsLimit', 1, 10000)!;
  Object.assign(settings, changes);
}

async function readJson(req: IncomingMessage, body: Buffer): Promise<Json> {
  if (body.length === 0) return {};
  if (!/json/i.test(req.headers['content-type'] ?? 'application/json')) bad('send JSON (Content-Type: application/json)');
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) bad('the body must be a JSON object');
    return parsed as Json;
  } catch (error) {
    if (error instanceof ControlError) throw error;
    return bad(`the body is not JSON: ${(error as Error).message}`);
  }
}

function appInput(body: Json): AppInput {
  const list = (key: string) => {
    const value = body[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) bad(`"${key}" must be a list`);
    return value as unknown[];
  };
  const permissions = list('permissions');
  if (permissions && !permissions.every((p) => typeof p === 'string')) bad('"permissions" must be a list of permission names');
  const secrets = list('secrets')?.map((s) => {
    if (!s || typeof s !== 'object') bad('"secrets" must hold objects: {"value"?: …, "expiresAt"?: …}');
    return { value: str(s as Json, 'value'), expiresAt: (s as Json).expiresAt === null ? null : str(s as Json, 'expiresAt') };
  });
  const certificates = list('certificates')?.map((c) => {
    if (!c || typeof c !== 'object') bad('"certificates" must hold objects: {"pem": …}');
    return { pem: str(c as Json, 'pem', true) };
  });
  return {
    displayName: str(body, 'displayName'),
    clientId: str(body, 'clientId'),
    ...(permissions ? { permissions: permissions as string[] } : {}),
    ...(secrets ? { secrets } : {}),
    ...(certificates ? { certificates } : {}),
  };
}

function describeApp(app: GraphService['directory']['apps'][number]) {
  return {
    clientId: app.clientId,
    displayName: app.displayName,
    permissions: app.permissions,
    secrets: app.secrets,
    certificates: app.certificates.map((c) => ({ thumbprint: c.sha1.toUpperCase(), thumbprintSha256: c.sha256.toUpperCase() })),
    servicePrincipalId: app.servicePrincipalId,
  };
}

/** The /_sandbox/graph/… routes: app registrations, application access policies, Graph subscriptions. */
async function graphControl(graph: GraphService, method: string, parts: string[], body: Json, reply: (status: number, value: unknown) => void): Promise<void> {
  const route = `${method} /${parts.map((p, i) => (i % 2 === 0 ? p : ':')).join('/')}`;
  const directory = graph.directory;
  switch (route) {
    case 'GET /':
      return reply(200, { url: graph.graphUrl(), authority: graph.authority(), tenantId: directory.tenantId, apps: directory.apps.length, accessPolicies: directory.accessPolicies.length });
    case 'GET /apps':
      return reply(200, directory.apps.map(describeApp));
    case 'POST /apps':
      return reply(201, describeApp(directory.addApp(appInput(body))));
    case 'GET /apps/:': {
      const app = directory.app(parts[1]!);
      if (!app) throw new ControlError(404, `no app ${parts[1]}`);
      return reply(200, describeApp(app));
    }
    case 'PATCH /apps/:':
      return reply(200, describeApp(directory.updateApp(parts[1]!, appInput(body))));
    case 'DELETE /apps/:':
      directory.removeApp(parts[1]!);
      return reply(204, null);
    case 'GET /access-policies':
      return reply(200, directory.accessPolicies);
    case 'POST /access-policies': {
      const mailboxes = body.mailboxes;
      if (!Array.isArray(mailboxes) || !mailboxes.every((m) => typeof m === 'string')) bad('"mailboxes" must be a list of addresses');
      return reply(201, directory.addAccessPolicy({ appId: str(body, 'appId', true), accessRight: str(body, 'accessRight', true), mailboxes: mailboxes as string[], description: str(body, 'description') }));
    }
    case 'DELETE /access-policies/:':
      directory.removeAccessPolicy(parts[1]!);
      return reply(204, null);
    case 'GET /subscriptions':
      return reply(
        200,
        graph.subscriptions.list().map((s) => ({
          id: s.id,
          resource: s.resource,
          mailbox: s.mailbox.address,
          applicationId: s.applicationId,
          changeType: s.changeType,
          notificationUrl: s.notificationUrl,
          lifecycleNotificationUrl: s.lifecycleNotificationUrl,
          expirationDateTime: s.expirationDateTime,
          reauthorizationRequired: s.reauthorizationRequired,
          delivered: s.delivered,
          failed: s.failed,
        })),
      );
    case 'POST /subscriptions/:/lifecycle': {
      const event = str(body, 'event', true);
      if (!['missed', 'reauthorizationRequired', 'subscriptionRemoved'].includes(event)) bad('"event" must be "missed", "reauthorizationRequired" or "subscriptionRemoved"');
      if (!(await lifecycleFromControl(graph, parts[1]!, event as 'missed'))) throw new ControlError(404, `no Graph subscription ${parts[1]}`);
      return reply(200, { sent: event });
    }
    case 'DELETE /subscriptions/:':
      if (!graph.subscriptions.remove(parts[1]!)) throw new ControlError(404, `no Graph subscription ${parts[1]}`);
      return reply(204, null);
    default:
      throw new ControlError(404, `no control API route ${method} /_sandbox/graph/${parts.join('/')}`);
  }
}

/** Answers a control API request; `info` is what the sandbox printed when it became ready. */
export async function handleControl(runtime: SandboxRuntime, info: () => Json, req: IncomingMessage, res: ServerResponse, bodyBytes: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://sandbox');
  const parts = url.pathname.replace(/^\/_sandbox\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const reply = (status: number, value: unknown) => {
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${JSON.stringify(value, null, 2)}\n`);
  };
  try {
    const body = await readJson(req, bodyBytes);
    const { state } = runtime;
    if (parts[0] === 'graph') {
      const graph = graphOf(runtime);
      if (!graph) throw new ControlError(404, 'this sandbox has no Graph side');
      return await graphControl(graph, method, parts.slice(1), body, reply);
    }
    // Every second path segment is a name (an address, a folder, an id): /mailboxes/:/folders/:/items.
    const route = `${method} /${parts.map((p, i) => (i % 2 === 1 ? ':' : p)).join('/')}`;
    switch (route) {
      case 'GET /':
        return reply(200, info());
      case 'GET /accounts':
        return reply(200, [...state.accounts.values()]);
      case 'POST /accounts': {
        const account = state.addAccount({
          username: str(body, 'username', true),
          password: str(body, 'password', true),
          impersonation: bool(body, 'impersonation') ?? false,
          mailbox: str(body, 'mailbox') ?? null,
        });
        return reply(201, account);
      }
      case 'PATCH /accounts/:': {
        const account = state.account(parts[1]!) ?? (() => {
          throw new ControlError(404, `no account ${parts[1]}`);
        })();
        const password = str(body, 'password');
        const impersonation = bool(body, 'impersonation');
        if (password !== undefined) account.password = password;
        if (impersonation !== undefined) account.impersonation = impersonation;
        state.changed();
        return reply(200, account);
      }
      case 'GET /mailboxes':
        return reply(200, [...state.mailboxes.values()].map((m) => describeMailbox(runtime, m)));
      case 'POST /mailboxes': {
        const address = str(body, 'address', true);
        const aliases = body.aliases === undefined ? [] : Array.isArray(body.aliases) && body.aliases.every((a) => typeof a === 'string') ? (body.aliases as string[]) : bad('"aliases" must be a list of addresses');
        const mailbox = state.addMailbox(address, str(body, 'displayName') ?? address.split('@')[0]!, server(str(body, 'server')) ?? 'mail', aliases);
        const password = str(body, 'password');
        if (password !== undefined) state.addAccount({ username: address, password, impersonation: false, mailbox: address });
        return reply(201, describeMailbox(runtime, mailbox));
      }
      case 'GET /mailboxes/:':
        return reply(200, describeMailbox(runtime, mailboxOr404(runtime, parts[1]!)));
      case 'DELETE /mailboxes/:': {
        const removed = state.removeMailbox(parts[1]!);
        runtime.subscriptions.drop({ mailbox: removed.address });
        return reply(204, null);
      }
      case 'POST /mailboxes/:/move': {
        const mailbox = mailboxOr404(runtime, parts[1]!);
        mailbox.server = server(str(body, 'server', true))!;
        return reply(200, describeMailbox(runtime, mailbox));
      }
      case 'GET /mailboxes/:/folders': {
        const mailbox = mailboxOr404(runtime, parts[1]!);
        const root = mailbox.distinguishedFolder('msgfolderroot')!;
        return reply(
          200,
          mailbox.subtree(root.id).map((f) => ({ id: f.id, path: folderPath(mailbox, f), displayName: f.displayName, distinguishedId: f.distinguishedId, ...mailbox.counts(f) })),
        );
      }
      case 'POST /mailboxes/:/folders': {
        const mailbox = mailboxOr404(runtime, parts[1]!);
        const parent = findFolder(mailbox, str(body, 'parent') ?? 'msgfolderroot');
        const folder = mailbox.addFolder(parent.id, str(body, 'displayName', true), str(body, 'folderClass') ?? 'IPF.Note');
        return reply(201, { id: folder.id, path: folderPath(mailbox, folder), displayName: folder.displayName });
      }
      case 'GET /mailboxes/:/folders/:/items': {
        const mailbox = mailboxOr404(runtime, parts[1]!);
        return reply(200, describeItems(mailbox, findFolder(mailbox, parts[3]!)));
      }
      case 'POST /mailboxes/:/messages': {
        const mailbox = mailboxOr404(runtime, parts[1]!);
        return reply(201, await deliver(runtime, mailbox, body));
      }
      case 'GET /outbound':
        return reply(200, state.outbound.map(({ mimeRef: _mimeRef, ...rest }) => rest));
      case 'GET /redirects':
        return reply(200, state.redirects);
      case 'POST /redirects': {
        const kind = str(body, 'kind', true);
        if (kind !== 'address' && kind !== 'url') bad('"kind" must be "address" or "url"');
        const redirect = { address: str(body, 'address', true), kind, target: str(body, 'target', true) } as const;
        const existing = state.redirects.findIndex((r) => r.address.toLowerCase() === redirect.address.toLowerCase());
        if (existing >= 0) state.redirects.splice(existing, 1);
        state.redirects.push(redirect);
        state.changed();
        return reply(201, redirect);
      }
      case 'DELETE /redirects/:': {
        const index = state.redirects.findIndex((r) => r.address.toLowerCase() === parts[1]!.toLowerCase());
        if (index < 0) throw new ControlError(404, `no redirect for ${parts[1]}`);
        state.redirects.splice(index, 1);
        state.changed();
        return reply(204, null);
      }
      case 'GET /subscriptions':
        return reply(200, {
          subscriptions: runtime.subscriptions.list().map((sub) => ({
            id: sub.id,
            kind: sub.kind,
            owner: sub.owner,
            mailbox: sub.mailbox.address,
            server: sub.server,
            connections: sub.sinks.size,
          })),
          connections: runtime.subscriptions.openConnections().map((c) => ({
            owner: c.owner,
            server: c.server,
            anchor: c.anchor,
            mailboxes: c.subscriptions.map((sub) => sub.mailbox.address),
          })),
        });
      case 'DELETE /subscriptions':
        return reply(200, runtime.subscriptions.drop({ mailbox: str(body, 'mailbox') ?? url.searchParams.get('mailbox'), server: server(str(body, 'server') ?? url.searchParams.get('server') ?? undefined) ?? null }));
      case 'GET /settings':
        return reply(200, runtime.settings);
      case 'PATCH /settings':
        updateSettings(runtime.settings, body);
        return reply(200, runtime.settings);
      case 'GET /faults':
        return reply(200, runtime.faults.rules);
      case 'POST /faults': {
        const kind = str(body, 'kind', true);
        if (!FAULT_KINDS.includes(kind as FaultInput['kind'])) bad(`"kind" must be one of ${FAULT_KINDS.join(', ')}`);
        const rule = runtime.faults.add({
          kind: kind as FaultInput['kind'],
          operation: str(body, 'operation') ?? null,
          mailbox: str(body, 'mailbox') ?? null,
          host: str(body, 'host') ?? null,
          times: int(body, 'times', 1, 1_000_000) ?? null,
          delayMs: int(body, 'delayMs', 0, 600_000),
          backOffMilliseconds: int(body, 'backOffMilliseconds', 0, 3_600_000) ?? null,
        });
        return reply(201, rule);
      }
      case 'DELETE /faults':
        runtime.faults.clear();
        return reply(204, null);
      case 'DELETE /faults/:':
        if (!runtime.faults.remove(parts[1]!)) throw new ControlError(404, `no fault ${parts[1]}`);
        return reply(204, null);
      default:
        throw new ControlError(404, `no control API route ${method} ${url.pathname}`);
    }
  } catch (error) {
    if (error instanceof ControlError || error instanceof SandboxStateError) return reply(error.status, { error: error.message });
    const code = (error as { code?: string }).code;
    if (code && /^Error/.test(code)) return reply(409, { error: (error as Error).message, code });
    runtime.log(`control API ${method} ${url.pathname} failed: ${(error as Error).stack ?? String(error)}`);
    return reply(500, { error: (error as Error).message });
  }
}
