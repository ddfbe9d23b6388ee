/**
 * The shapes of EWS answers, after the real captures: the envelope with ServerVersionInfo, response messages
 * (Success, Warning, Error: MessageText, ResponseCode, DescriptiveLinkKey, MessageXml, then the payload), and
 * SOAP faults for request-level failures (HTTP 500, Exchange 2010+ shape).
 */
import { NS } from '../../xml/namespaces.js';
import { el, type Xml, XML_DECLARATION, type XmlChild } from '../../xml/write.js';

/** The sandbox presents itself as Exchange Server 2016 (a real build number and schema version). */
export const SERVER_VERSION = { major: 15, minor: 1, majorBuild: 2507, minorBuild: 57, version: 'V2017_07_11' } as const;

export function serverVersionInfo(): Xml {
  return el('h:ServerVersionInfo', {
    MajorVersion: SERVER_VERSION.major,
    MinorVersion: SERVER_VERSION.minor,
    MajorBuildNumber: SERVER_VERSION.majorBuild,
    MinorBuildNumber: SERVER_VERSION.minorBuild,
    Version: SERVER_VERSION.version,
    'xmlns:h': NS.types,
    xmlns: NS.types,
    'xmlns:xsi': NS.xsi,
    'xmlns:xsd': NS.xsd,
  });
}

/** A complete response document around a body payload. */
export function envelope(body: Xml, declaration = true): string {
  return (
    (declaration ? XML_DECLARATION : '') +
    el(
      's:Envelope',
      { 'xmlns:s': NS.soap },
      el('s:Header', null, serverVersionInfo()),
      el('s:Body', { 'xmlns:xsi': NS.xsi, 'xmlns:xsd': NS.xsd }, body),
    ).serialized
  );
}

/** m:<Operation>Response around its response messages. */
export function responseRoot(operation: string, messages: readonly Xml[]): Xml {
  return el(`m:${operation}Response`, { 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, el('m:ResponseMessages', null, messages));
}

export function success(operation: string, ...payload: XmlChild[]): Xml {
  return el(`m:${operation}ResponseMessage`, { ResponseClass: 'Success' }, el('m:ResponseCode', null, 'NoError'), ...payload);
}

export interface EwsErrorDetail {
  /** Name/value pairs for m:MessageXml (t:Value Name=…), or ready-made XML. */
  values?: Record<string, string | number>;
  xml?: Xml;
}

function messageXml(prefix: 'm' | 't', detail: EwsErrorDetail | undefined): Xml | null {
  if (!detail) return null;
  const values = Object.entries(detail.values ?? {}).map(([name, value]) => el('t:Value', { Name: name }, String(value)));
  if (values.length === 0 && !detail.xml) return null;
  return el(`${prefix}:MessageXml`, prefix === 't' ? { 'xmlns:t': NS.types } : null, values, detail.xml);
}

function problem(responseClass: 'Warning' | 'Error', operation: string, code: string, text: string, detail: EwsErrorDetail | undefined, payload: XmlChild[]): Xml {
  return el(
    `m:${operation}ResponseMessage`,
    { ResponseClass: responseClass },
    el('m:MessageText', null, text),
    el('m:ResponseCode', null, code),
    el('m:DescriptiveLinkKey', null, '0'),
    messageXml('m', detail),
    ...payload,
  );
}

export function warning(operation: string, code: string, text: string, ...payload: XmlChild[]): Xml {
  return problem('Warning', operation, code, text, undefined, payload);
}

export function failure(operation: string, error: EwsError, ...payload: XmlChild[]): Xml {
  return problem('Error', operation, error.code, error.message, error.detail, payload);
}

/** A per-item failure: the operation answers it inside its response message (HTTP 200). */
export class EwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: EwsErrorDetail,
  ) {
    super(message);
    this.name = 'EwsError';
  }
}

/** A request-level failure: a SOAP fault, HTTP 500. */
export class EwsFault extends Error {
  constructor(
    readonly code: string,
    readonly faultstring: string,
    /** The shorter text in detail/e:Message; Exchange often repeats the faultstring. */
    readonly detailMessage: string = faultstring,
    readonly detail?: EwsErrorDetail,
    readonly status = 500,
  ) {
    super(faultstring);
    this.name = 'EwsFault';
  }
}

export function faultEnvelope(fault: EwsFault): string {
  return (
    XML_DECLARATION +
    el(
      's:Envelope',
      { 'xmlns:s': NS.soap },
      el(
        's:Body',
        null,
        el(
          's:Fault',
          null,
          el('faultcode', { 'xmlns:a': NS.types }, `a:${fault.code}`),
          el('faultstring', { 'xml:lang': 'en-US' }, fault.faultstring),
          el(
            'detail',
            null,
            el('e:ResponseCode', { 'xmlns:e': NS.errors }, fault.code),
            el('e:Message', { 'xmlns:e': NS.errors }, fault.detailMessage),
            messageXml('t', fault.detail),
          ),
        ),
      ),
    ).serialized
  );
}

// The texts real Exchange servers send (from the captures), so clients that match on them keep working.
export const TEXT = {
  itemNotFound: 'The specified object was not found in the store.',
  idMalformed: 'Id is malformed.',
  folderExists: 'A folder with the specified name already exists.',
  parentFolderNotFound: 'The specified parent folder could not be found.',
  nonExistentMailbox: 'The SMTP address has no mailbox associated with it.',
  impersonateUserDenied: 'The account does not have permission to impersonate the requested user.',
  accessDenied: 'Access is denied. Check credentials and try again.',
  invalidSyncStateItems: 'Synchronization state data is corrupt or otherwise invalid.',
  invalidSyncStateFolders: 'Synchronization state data is corrupted or otherwise invalid.',
  serverBusy: 'The server cannot service this request right now. Try again later.',
  schemaValidation: 'The request failed schema validation.',
  moveCopyFailed: 'The move or copy operation failed.',
  nameResolutionNone: 'No results were found.',
  nameResolutionMultiple: 'Multiple results were found.',
  subscriptionNotFound: 'The specified subscription was not found.',
  subscriptionAccessDenied: 'Access is denied. Only the subscription owner may access the subscription.',
  invalidSmtpAddress: 'The SMTP address format is invalid.',
  invalidChangeKey: 'The change key is invalid.',
  invalidSubscription: 'The subscription is invalid.',
} as const;
