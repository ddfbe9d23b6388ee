/**
 * A sandbox for one test file: started on free ports with the demo data, every exchange recorded, and an
 * HTTPS client that reaches its host names the way --resolve does (names kept for TLS, address mapped).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { type SandboxOptions, startSandbox, type Sandbox, type SandboxInfo } from '../../src/sandbox/server.js';
import type { ExchangeRecord } from '../../src/sandbox/runtime.js';
import { NS } from '../../src/xml/namespaces.js';
import { attr, child, children, parseXml, type XmlElement } from '../../src/xml/parse.js';

export const M = NS.messages;
export const T = NS.types;

/** Connects every host name to the loopback address, keeping the name for SNI and certificate checks. */
export const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

export interface EwsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed envelope (throws when the answer is not XML). */
  doc(): XmlElement;
}

export interface CallOptions {
  user?: string;
  password?: string | null;
  /** Impersonate this address (PrimarySmtpAddress). */
  as?: string | null;
  /** Host to send to (default mail.<domain>). */
  host?: string;
  headers?: Record<string, string>;
  version?: string | null;
  /** Extra SOAP header XML. */
  soapHeader?: string;
}

export interface TestSandbox {
  sandbox: Sandbox;
  info: SandboxInfo;
  records: ExchangeRecord[];
  agent: Agent;
  dataDir: string;
  password: string;
  /** POSTs raw text to a path on a host of the sandbox. */
  post(host: string, pathname: string, body: string, options?: CallOptions): Promise<EwsAnswer>;
  /** Sends an EWS operation (the body payload, with m: and t: prefixes) in an envelope. */
  ews(payload: string, options?: CallOptions): Promise<EwsAnswer>;
  control<T = unknown>(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: T }>;
  close(): Promise<void>;
}

export function envelope(payload: string, options: CallOptions = {}): string {
  const version = options.version === undefined ? '<t:RequestServerVersion Version="Exchange2016"/>' : options.version === null ? '' : `<t:RequestServerVersion Version="${options.version}"/>`;
  const impersonation = options.as
    ? `<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>${options.as}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`
    : '';
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${NS.soap}" xmlns:m="${M}" xmlns:t="${T}">` +
    `<soap:Header>${version}${impersonation}${options.soapHeader ?? ''}</soap:Header>` +
    `<soap:Body>${payload}</soap:Body></soap:Envelope>`
  );
}

export async function startTestSandbox(options: SandboxOptions = {}): Promise<TestSandbox> {
  const records: ExchangeRecord[] = [];
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'liaison-sandbox-test-'));
  const sandbox = await startSandbox({
    port: 0,
    httpPort: 0,
    seed: 'demo',
    log: () => undefined,
    ...options,
    dataDir,
    onExchange: (r) => {
      records.push(r);
      options.onExchange?.(r);
    },
  });
  const info = sandbox.info;
  const agent = new Agent({ connect: { ca: sandbox.pki.caCertPem, lookup: loopbackLookup }, keepAliveTimeout: 10 });
  const password = info.serviceAccount?.password ?? '';
  const port = info.listen.port;
  const post: TestSandbox['post'] = async (host, pathname, body, callOptions = {}) => {
    const user = callOptions.user ?? info.serviceAccount?.username ?? '';
    const secret = callOptions.password === undefined ? password : callOptions.password;
    const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8', ...callOptions.headers };
    if (secret !== null) headers.authorization = `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    const response = await request(`https://${host}:${port}${pathname}`, { method: 'POST', body, headers, dispatcher: agent });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text, doc: () => parseXml(text) };
  };
  return {
    sandbox,
    info,
    records,
    agent,
    dataDir,
    password,
    post,
    ews: (payload, callOptions = {}) =>
      post(callOptions.host ?? `mail.${info.domain}`, '/EWS/Exchange.asmx', envelope(payload, callOptions), callOptions),
    async control(method, pathname, body) {
      const response = await request(`${info.control}${pathname}`, {
        method: method as 'GET',
        dispatcher: agent,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const text = await response.body.text();
      return { status: response.statusCode, json: (text ? JSON.parse(text) : null) as never };
    },
    async close() {
      await sandbox.close();
      await agent.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- reading answers ----

export function body(doc: XmlElement): XmlElement {
  return child(doc, NS.soap, 'Body')!.children[0]!;
}

/** The response messages of an EWS answer. */
export function responseMessages(doc: XmlElement): XmlElement[] {
  return children(child(body(doc), M, 'ResponseMessages'), M);
}

export function responseClass(message: XmlElement): string {
  return attr(message, 'ResponseClass') ?? '';
}

export function responseCode(message: XmlElement): string {
  return child(message, M, 'ResponseCode')?.text.trim() ?? '';
}

/** The one response message of a single-item answer, checked to be a success. */
export function ok(answer: EwsAnswer): XmlElement {
  if (answer.status !== 200) throw new Error(`expected HTTP 200, got ${answer.status}: ${answer.text.slice(0, 500)}`);
  const messages = responseMessages(answer.doc());
  const failed = messages.find((m) => responseClass(m) !== 'Success');
  if (failed) throw new Error(`expected Success, got ${responseCode(failed)}: ${child(failed, M, 'MessageText')?.text}`);
  return messages[0]!;
}

export function faultCode(answer: EwsAnswer): string {
  const fault = child(child(answer.doc(), NS.soap, 'Body'), NS.soap, 'Fault');
  return child(child(fault, '', 'detail'), NS.errors, 'ResponseCode')?.text.trim() ?? '';
}

/** Depth-first search for elements by local name (any namespace). */
export function find(element: XmlElement, local: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (e.local === local) found.push(e);
    e.children.forEach(walk);
  };
  walk(element);
  return found;
}

export function ids(element: XmlElement, local = 'ItemId'): string[] {
  return find(element, local).map((e) => attr(e, 'Id') ?? '');
}
