/**
 * Reading the parts every EWS answer shares: the ResponseMessages of an operation's response, each either a
 * success to read further or an EwsResponseError that keeps the server's code, text and MessageXml.
 */
import { NS } from '../../../xml/namespaces.js';
import { attr, child, children, textOf, type XmlElement } from '../../../xml/parse.js';
import type { ReadContext } from '../operations/operation.js';
import { EwsProtocolError, EwsResponseError } from './errors.js';

export type ResponseMessage =
  | { ok: true; index: number; responseClass: 'Success' | 'Warning'; responseCode: string; element: XmlElement }
  | { ok: false; index: number; error: EwsResponseError; element: XmlElement };

/**
 * MessageXml as name -> text: `<t:Value Name="Policy">MaxConcurrency</t:Value>` by its Name, other leaves
 * (`<t:BackOffMilliseconds>`, `<t:LineNumber>`) by their local name, a `FieldURI`-like leaf by its attribute.
 * The first occurrence of a name wins.
 */
export function readMessageXml(element: XmlElement | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (e: XmlElement): void => {
    if (e.children.length === 0) {
      const name = e.local === 'Value' ? (attr(e, 'Name') ?? 'Value') : e.local;
      const text = textOf(e) || (e.attributes.length > 0 ? e.attributes.map((a) => a.value).join(' ') : '');
      if (!(name in out)) out[name] = text;
      return;
    }
    for (const c of e.children) visit(c);
  };
  if (element) for (const c of element.children) visit(c);
  return out;
}

/** Writes an element back as compact XML text (for the administrator to read; prefixes as received). */
export function serializeElement(e: XmlElement): string {
  const name = e.prefix ? `${e.prefix}:${e.local}` : e.local;
  const attrs = e.attributes.map((a) => ` ${a.prefix ? `${a.prefix}:` : ''}${a.local}="${a.value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`).join('');
  const inner = e.children.map(serializeElement).join('') + e.text.trim().replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return inner === '' ? `<${name}${attrs}/>` : `<${name}${attrs}>${inner}</${name}>`;
}

/**
 * The response messages of `m:<Name>Response`, in order. A Warning is a success unless the caller lists its
 * code in `warningsAsErrors`.
 */
export function responseMessages(response: XmlElement, context: ReadContext, warningsAsErrors: readonly string[] = []): ResponseMessage[] {
  const container = child(response, NS.messages, 'ResponseMessages');
  if (!container) throw new EwsProtocolError(context.operation, `the answer's ${response.local} has no ResponseMessages`);
  return children(container).map((element, index): ResponseMessage => {
    const responseClass = attr(element, 'ResponseClass') ?? 'Success';
    const responseCode = textOf(child(element, NS.messages, 'ResponseCode')) || (responseClass === 'Success' ? 'NoError' : 'ErrorInternalServerError');
    const isError = responseClass === 'Error' || (responseClass === 'Warning' && warningsAsErrors.includes(responseCode));
    if (!isError) return { ok: true, index, responseClass: responseClass === 'Warning' ? 'Warning' : 'Success', responseCode, element };
    const messageXmlElement = child(element, NS.messages, 'MessageXml');
    const error = new EwsResponseError({
      responseCode,
      messageText: textOf(child(element, NS.messages, 'MessageText')),
      messageXml: readMessageXml(messageXmlElement),
      ...(messageXmlElement ? { messageXmlText: serializeElement(messageXmlElement) } : {}),
      httpStatus: context.httpStatus,
      operation: context.operation,
      responseClass: responseClass === 'Warning' ? 'Warning' : 'Error',
      index,
    });
    return { ok: false, index, error, element };
  });
}

/** The single response message of an operation on one thing: its element, or its error thrown. */
export function singleResponse(response: XmlElement, context: ReadContext): XmlElement {
  const [first] = responseMessages(response, context);
  if (!first) throw new EwsProtocolError(context.operation, 'the answer has no response message');
  if (!first.ok) throw first.error;
  return first.element;
}
