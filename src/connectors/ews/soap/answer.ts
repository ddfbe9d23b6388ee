/**
 * Reading an HTTP answer to an EWS request: parsed safely and bounded (src/xml/parse.ts), the SOAP Body found,
 * a SOAP fault turned into an EwsFaultError with the server's own code, text and MessageXml, and an answer that
 * is not SOAP at all (a 401, IIS's 503 page, an empty body) into an EwsHttpError that keeps what the
 * administrator needs to see: status, headers, the WWW-Authenticate offers and the start of the body.
 *
 * Tolerant on purpose: elements are matched by namespace URI and local name (servers use s:, soap:, h:, t: or a
 * default namespace), unknown elements are skipped, optional parts may be missing.
 */
import { NS } from '../../../xml/namespaces.js';
import { attr, parseXml, textOf, XmlParseError, type XmlElement, type XmlLimits } from '../../../xml/parse.js';
import type { HttpResponse } from '../transport/types.js';
import { EwsFaultError, EwsHttpError, EwsProtocolError } from './errors.js';
import { readMessageXml, serializeElement } from './response.js';

const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';
const EXCERPT_CHARS = 2000;

/** The ServerVersionInfo SOAP header: 15.1.2507.57 V2017_07_11 for Exchange 2016, 14.2.328.9 Exchange2010_SP2… */
export interface ServerVersionInfo {
  majorVersion: number;
  minorVersion: number;
  majorBuildNumber: number;
  minorBuildNumber: number;
  /** The schema version the server names (absent before Exchange 2010). */
  version?: string;
}

export type EwsAnswer =
  | { kind: 'response'; httpStatus: number; serverVersion: ServerVersionInfo | null; response: XmlElement }
  | { kind: 'fault'; httpStatus: number; serverVersion: ServerVersionInfo | null; fault: EwsFaultError };

function isSoap(e: XmlElement | undefined, local: string): boolean {
  return !!e && e.local === local && (e.ns === NS.soap || e.ns === SOAP12);
}

function firstByLocal(parent: XmlElement | undefined, local: string): XmlElement | undefined {
  return parent?.children.find((c) => c.local === local);
}

function toInt(value: string | undefined): number {
  const n = value === undefined ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : 0;
}

/** The ServerVersionInfo header block of an envelope, whatever its prefix; null when the server sent none. */
export function readServerVersionInfo(envelope: XmlElement): ServerVersionInfo | null {
  const header = envelope.children.find((c) => isSoap(c, 'Header'));
  const info = header?.children.find((c) => c.local === 'ServerVersionInfo' && c.ns === NS.types);
  if (!info) return null;
  const version = attr(info, 'Version');
  return {
    majorVersion: toInt(attr(info, 'MajorVersion')),
    minorVersion: toInt(attr(info, 'MinorVersion')),
    majorBuildNumber: toInt(attr(info, 'MajorBuildNumber')),
    minorBuildNumber: toInt(attr(info, 'MinorBuildNumber')),
    ...(version ? { version } : {}),
  };
}

/** A SOAP fault as an EwsFaultError: detail's ResponseCode and Message first, faultcode and faultstring else. */
export function readFault(fault: XmlElement, operation: string, httpStatus: number): EwsFaultError {
  const faultCodeText = textOf(firstByLocal(fault, 'faultcode') ?? firstByLocal(fault, 'Code'));
  const faultString = textOf(firstByLocal(fault, 'faultstring') ?? firstByLocal(firstByLocal(fault, 'Reason'), 'Text'));
  const detail = firstByLocal(fault, 'detail') ?? firstByLocal(fault, 'Detail');
  const messageXmlElement = detail?.children.find((c) => c.local === 'MessageXml');
  const responseCode = textOf(firstByLocal(detail, 'ResponseCode'));
  const message = textOf(firstByLocal(detail, 'Message'));
  const faultCodeLocal = faultCodeText.slice(faultCodeText.indexOf(':') + 1);
  return new EwsFaultError({
    responseCode: responseCode || faultCodeLocal || 'SoapFault',
    messageText: message || faultString,
    messageXml: readMessageXml(detail),
    ...(messageXmlElement || detail ? { messageXmlText: serializeElement((messageXmlElement ?? detail)!) } : {}),
    httpStatus,
    operation,
    faultCode: faultCodeText,
    faultString,
  });
}

function httpError(http: HttpResponse, operation: string, reason: string, htmlPage?: { title: string | null; signIn: boolean }): EwsHttpError {
  const text = http.body.subarray(0, EXCERPT_CHARS * 4).toString('utf8').slice(0, EXCERPT_CHARS);
  return new EwsHttpError({
    operation,
    httpStatus: http.status,
    headers: { ...http.headers },
    authenticate: http.headerLists['www-authenticate'] ?? (http.headers['www-authenticate'] ? [http.headers['www-authenticate']] : []),
    bodyExcerpt: text,
    reason,
    ...(htmlPage ? { htmlPage } : {}),
  });
}

/** How much of an answer is looked at to tell an HTML page (its start, its title, a password field). */
const HTML_SNIFF_BYTES = 64 * 1024;

/**
 * An HTML page where SOAP was expected: Content-Type text/html, or a body that starts as HTML whatever the
 * Content-Type says (proxies and appliances label their pages loosely). Null when the answer is not HTML.
 */
export function htmlPageOf(http: Pick<HttpResponse, 'headers' | 'body'>): { title: string | null; signIn: boolean } | null {
  const head = http.body.subarray(0, HTML_SNIFF_BYTES).toString('utf8').replace(/^\uFEFF/, '');
  const start = head.replace(/^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*/, '');
  const declared = /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(http.headers['content-type'] ?? '');
  if (!declared && !/^<!doctype\s+html[\s>]/i.test(start) && !/^<html[\s>]/i.test(start)) return null;
  const title = /<title[^>]*>([^<]{0,200})/i.exec(head)?.[1]?.replace(/\s+/g, ' ').trim() || null;
  const signIn = /<input[^>]+type\s*=\s*["']?password/i.test(head) || /\b(sign[ -]?in|log[ -]?in|logon|log on)\b/i.test(title ?? '');
  return { title, signIn };
}

/** The reason text of an HTML page answer: what came back and what it likely is. */
function htmlReason(page: { title: string | null; signIn: boolean }): string {
  const titled = page.title ? ` (its title: "${page.title}")` : '';
  return page.signIn ? `the server answered an HTML page, not EWS: a proxy's sign-in page?${titled}` : `the server answered an HTML page, not EWS${titled}: a proxy's sign-in or error page?`;
}

function whyNotSoap(http: HttpResponse, detail: string): string {
  if (http.status === 401) {
    const offers = (http.headerLists['www-authenticate'] ?? []).map((v) => v.split(/\s+/)[0]).filter(Boolean);
    return `the server refused the credentials${offers.length ? ` (it offers ${offers.join(', ')})` : ''}`;
  }
  if (http.status === 403) return 'access to the EWS endpoint is forbidden';
  if (http.status === 404) return 'no EWS endpoint at this URL';
  if (http.status === 503) return `the service is unavailable${http.headers['retry-after'] ? ` (Retry-After: ${http.headers['retry-after']})` : ''}`;
  if (http.status >= 300 && http.status < 400) return `a redirect to ${http.headers.location ?? '(no Location)'}`;
  return detail;
}

/**
 * Reads an EWS answer. Returns the operation's response element (`m:<Operation>Response`) or the SOAP fault;
 * throws EwsHttpError for an answer that is not SOAP, EwsProtocolError for SOAP that is not this operation's.
 */
export function readAnswer(http: HttpResponse, operation: string, limits: Partial<XmlLimits> = {}): EwsAnswer {
  if (http.body.length === 0) throw httpError(http, operation, whyNotSoap(http, 'the answer is empty'));
  // A 2xx HTML page is what a reverse proxy's sign-in (pre-authentication) page looks like; other statuses keep
  // their own meaning (a 401 or 503 page is judged by its status).
  const page = http.status >= 200 && http.status < 300 ? htmlPageOf(http) : null;
  if (page) throw httpError(http, operation, htmlReason(page), page);
  let root: XmlElement;
  try {
    root = parseXml(http.body, limits);
  } catch (error) {
    if (!(error instanceof XmlParseError)) throw error;
    const contentType = http.headers['content-type'] ?? '';
    const looksLikeXml = /xml/i.test(contentType) || /^\s*<\?xml/.test(http.body.subarray(0, 64).toString('utf8'));
    if (http.status >= 200 && http.status < 300 && looksLikeXml) {
      throw new EwsProtocolError(operation, `the answer is not safe, well-formed XML: ${error.message}`, http.body.subarray(0, EXCERPT_CHARS).toString('utf8'));
    }
    throw httpError(http, operation, whyNotSoap(http, `the answer is not XML (${contentType || 'no Content-Type'})`));
  }
  if (!isSoap(root, 'Envelope')) throw httpError(http, operation, whyNotSoap(http, `the answer is XML but not SOAP (<${root.local}>)`));
  const serverVersion = readServerVersionInfo(root);
  const body = root.children.find((c) => isSoap(c, 'Body'));
  const payload = body?.children[0];
  if (!payload) throw new EwsProtocolError(operation, 'the SOAP answer has an empty Body', http.body.subarray(0, EXCERPT_CHARS).toString('utf8'));
  if (isSoap(payload, 'Fault')) return { kind: 'fault', httpStatus: http.status, serverVersion, fault: readFault(payload, operation, http.status) };
  const expected = `${operation}Response`;
  if (payload.ns !== NS.messages || payload.local !== expected) {
    throw new EwsProtocolError(operation, `expected ${expected}, the answer holds ${payload.local} (${payload.ns || 'no namespace'})`);
  }
  return { kind: 'response', httpStatus: http.status, serverVersion, response: payload };
}
