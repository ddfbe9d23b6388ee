/**
 * POX Autodiscover (`/autodiscover/autodiscover.xml`, Exchange 2007 SP1 and later, Exchange Online): the
 * request in the Outlook request schema 2006 asking for the response schema 2006a, and the reading of its answer.
 *
 * Request: ms-docs web-service-reference/pox-autodiscover-request-for-exchange.md (fixture
 * pox-autodiscover-request-for-exchange__01.xml, how-to-get-user-settings-…__04.xml).
 * Answer: `Autodiscover/Response` (2006a) with `User` (DisplayName, AutoDiscoverSMTPAddress) and `Account` whose
 * `Action` is `settings` (Protocol elements), `redirectAddr` (RedirectAddr) or `redirectUrl` (RedirectUrl); or
 * `Autodiscover/Response/Error` (schema 2006) with `ErrorCode` 500 (unknown address), 600 (invalid request), 601
 * (schema not available) and `Message` (pox-autodiscover-response-for-exchange.md, errorcode-pox.md,
 * action-pox.md, redirecturl-pox.md).
 *
 * Elements are matched by local name under the Autodiscover root: answers mix the 2006 and 2006a namespaces (an
 * Error is in 2006, settings in 2006a), and exchangelib's fixtures write `RedirectURL` where the docs write
 * `RedirectUrl`, so names are compared without case.
 */
import { NS } from '../../../xml/namespaces.js';
import { parseXml, textOf, type XmlElement, XmlParseError } from '../../../xml/parse.js';
import { el } from '../../../xml/write.js';
import { type AutodiscoverAnswer, AutodiscoverReadError, type AutodiscoverSettings } from './answer.js';

export function buildPoxRequest(address: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    el(
      'Autodiscover',
      { xmlns: NS.poxRequest },
      el('Request', null, el('EMailAddress', null, address), el('AcceptableResponseSchema', null, NS.poxOutlookResponse)),
    ).serialized
  );
}

export function poxRequestHeaders(): Record<string, string> {
  return { 'content-type': 'text/xml; charset=utf-8', accept: 'text/xml' };
}

function named(element: XmlElement | undefined, local: string): XmlElement | undefined {
  const wanted = local.toLowerCase();
  return element?.children.find((c) => c.local.toLowerCase() === wanted);
}

function allNamed(element: XmlElement | undefined, local: string): XmlElement[] {
  const wanted = local.toLowerCase();
  return element ? element.children.filter((c) => c.local.toLowerCase() === wanted) : [];
}

/**
 * POX `ServerVersion` is hex: after 4 bits to ignore, 6 bits major, 6 bits minor, a flag bit, 15 bits build
 * (ms-docs web-service-reference/serverversion-pox.md, whose example decodes 738180DA that way).
 */
export function decodePoxServerVersion(hex: string): string | null {
  if (!/^[0-9a-f]{1,8}$/i.test(hex)) return null;
  const value = parseInt(hex, 16) >>> 0;
  const major = (value >>> 22) & 0x3f;
  const minor = (value >>> 16) & 0x3f;
  const build = value & 0x7fff;
  return `${major}.${minor}.${build}`;
}

export function readPoxResponse(text: string | Buffer): AutodiscoverAnswer {
  let root: XmlElement;
  try {
    root = parseXml(text, { maxBytes: 1024 * 1024 });
  } catch (error) {
    const where = error instanceof XmlParseError ? ` (line ${error.line}, column ${error.column})` : '';
    throw new AutodiscoverReadError('pox', `the answer is not well-formed XML: ${(error as Error).message}${where}`);
  }
  if (root.local !== 'Autodiscover' || (root.ns !== NS.poxResponse && root.ns !== NS.poxOutlookResponse)) {
    throw new AutodiscoverReadError('pox', `the answer is <${root.local}> in "${root.ns}", not an Autodiscover response (${NS.poxResponse})`);
  }
  const response = named(root, 'Response');
  if (!response) throw new AutodiscoverReadError('pox', 'the Autodiscover answer has no Response');
  const error = named(response, 'Error');
  if (error) {
    return { kind: 'error', level: 'pox', code: textOf(named(error, 'ErrorCode')) || 'unknown', message: textOf(named(error, 'Message')) };
  }
  const account = named(response, 'Account');
  if (!account) throw new AutodiscoverReadError('pox', 'the Autodiscover Response has neither Error nor Account');
  const action = textOf(named(account, 'Action'));
  if (action === 'redirectAddr' || action === 'redirectUrl') {
    const target = textOf(named(account, action === 'redirectAddr' ? 'RedirectAddr' : 'RedirectUrl'));
    if (!target) return { kind: 'error', level: 'pox', code: action, message: `Action ${action} without its target` };
    return { kind: action === 'redirectAddr' ? 'redirect-address' : 'redirect-url', target };
  }
  if (action !== 'settings') {
    return { kind: 'error', level: 'pox', code: action || 'no-action', message: action ? `unknown Action "${action}"` : 'the Account has no Action' };
  }

  const user = named(response, 'User');
  const settings: Record<string, string> = {};
  const protocols = allNamed(account, 'Protocol').map((p) => ({ type: textOf(named(p, 'Type')).toUpperCase(), element: p }));
  for (const { type, element } of protocols) {
    if (type !== 'EXCH' && type !== 'EXPR') continue;
    for (const c of element.children) if (c.children.length === 0 && textOf(c)) settings[`${type}.${c.local}`] = textOf(c);
  }
  const expr = settings['EXPR.EwsUrl'];
  const exch = settings['EXCH.EwsUrl'];
  // EXPR (Outlook Anywhere, the external protocol) first, then EXCH (internal): the order exchangelib's POX
  // reader used (PROTOCOL.md §1.2, fixture test_autodiscover_pox_L689) and the external-first order of the
  // SOAP reader. Protocols of other types (WEB, and WEB's nested ones) carry no EWS URL of their own.
  const answer: AutodiscoverSettings = { kind: 'settings', ewsUrl: expr ?? exch ?? null, settings, settingErrors: [] };
  if (expr) answer.externalEwsUrl = expr;
  if (exch) answer.internalEwsUrl = exch;
  if (settings['EXPR.GroupingInformation']) answer.groupingInformation = settings['EXPR.GroupingInformation'];
  const smtp = textOf(named(user, 'AutoDiscoverSMTPAddress'));
  if (smtp) answer.smtpAddress = smtp;
  const displayName = textOf(named(user, 'DisplayName'));
  if (displayName) answer.displayName = displayName;
  const hex = settings['EXCH.ServerVersion'] ?? settings['EXPR.ServerVersion'];
  if (hex) {
    const decoded = decodePoxServerVersion(hex);
    answer.serverBuild = decoded ?? hex;
    answer.serverVersion = decoded ? `${decoded} (ServerVersion ${hex})` : hex;
  }
  return answer;
}
