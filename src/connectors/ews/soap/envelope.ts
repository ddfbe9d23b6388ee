/**
 * The SOAP 1.1 envelope every EWS request travels in: m: and t: declared once on the envelope (the operations
 * write their payload with those prefixes), the RequestServerVersion header, and ExchangeImpersonation when the
 * service account acts for a mailbox.
 */
import { NS } from '../../../xml/namespaces.js';
import { el, raw, XML_DECLARATION } from '../../../xml/write.js';
import type { ExchangeVersion } from '../versions.js';

export interface EnvelopeOptions {
  version: ExchangeVersion;
  /** The mailbox to impersonate, by primary SMTP address. */
  impersonate?: string | null | undefined;
  /** The body's payload: one `m:<Operation>` element. */
  body: string;
}

export function buildEnvelope(options: EnvelopeOptions): string {
  // Schema order of the header blocks does not matter (each is validated alone), but Exchange's own clients
  // send the impersonation after the version; we do the same.
  const header = el(
    'soap:Header',
    null,
    el('t:RequestServerVersion', { Version: options.version }),
    options.impersonate
      ? el('t:ExchangeImpersonation', null, el('t:ConnectingSID', null, el('t:PrimarySmtpAddress', null, options.impersonate)))
      : null,
  );
  const envelope = el(
    'soap:Envelope',
    { 'xmlns:soap': NS.soap, 'xmlns:m': NS.messages, 'xmlns:t': NS.types },
    header,
    el('soap:Body', null, raw(options.body)),
  );
  return XML_DECLARATION + envelope.serialized;
}
