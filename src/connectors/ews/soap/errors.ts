/**
 * What an Exchange server can say "no" with, as typed errors that keep the server's own words: the response
 * code, the message text and the MessageXml details (BackOffMilliseconds, the property path, …), so that the
 * engine can act on them and diagnostics can show them.
 */

export interface EwsErrorDetails {
  /** The EWS ResponseCode (ErrorServerBusy) or the SOAP fault's code. */
  responseCode: string;
  messageText: string;
  /** MessageXml (per item) or the fault's detail, as name -> text of its leaf elements (first wins). */
  messageXml: Record<string, string>;
  /** The raw MessageXml / detail element serialized back, for an administrator to read. */
  messageXmlText?: string;
  httpStatus: number;
  /** The operation that was called. */
  operation: string;
}

/** A SOAP fault: the whole request failed (schema, impersonation, throttling, version). */
export class EwsFaultError extends Error {
  constructor(readonly details: EwsErrorDetails & { faultCode: string; faultString: string }) {
    super(`${details.operation}: ${details.responseCode}: ${details.messageText}`);
    this.name = 'EwsFaultError';
  }
  get responseCode(): string {
    return this.details.responseCode;
  }
  /** The server's back-off hint in milliseconds, when it gave one. */
  get backOffMs(): number | null {
    const v = this.details.messageXml.BackOffMilliseconds;
    return v === undefined || !/^\d+$/.test(v) ? null : Number(v);
  }
}

/** One ResponseMessage with ResponseClass="Error" (or a Warning the operation treats as an error). */
export class EwsResponseError extends Error {
  constructor(readonly details: EwsErrorDetails & { responseClass: 'Error' | 'Warning'; index: number }) {
    super(`${details.operation}: ${details.responseCode}: ${details.messageText}`);
    this.name = 'EwsResponseError';
  }
  get responseCode(): string {
    return this.details.responseCode;
  }
  get backOffMs(): number | null {
    const v = this.details.messageXml.BackOffMilliseconds;
    return v === undefined || !/^\d+$/.test(v) ? null : Number(v);
  }
}

/** An HTTP answer that is not a SOAP answer: 401, 403, 503, an HTML error page, XML that is not EWS. */
export class EwsHttpError extends Error {
  constructor(
    readonly details: {
      operation: string;
      httpStatus: number;
      headers: Record<string, string>;
      /** WWW-Authenticate values, one per header line, when the answer had them. */
      authenticate: string[];
      /** The first part of the body as text, for the administrator. */
      bodyExcerpt: string;
      reason: string;
      /**
       * The answer was an HTML page where SOAP was expected (a reverse proxy's sign-in page, an error page), with
       * its title and whether it asks for a password.
       */
      htmlPage?: { title: string | null; signIn: boolean };
    },
  ) {
    super(`${details.operation}: HTTP ${details.httpStatus}: ${details.reason}`);
    this.name = 'EwsHttpError';
  }
}

/** An answer that is XML but not what the operation's schema says (missing required element, unsafe XML). */
export class EwsProtocolError extends Error {
  constructor(
    readonly operation: string,
    message: string,
    readonly excerpt = '',
  ) {
    super(`${operation}: ${message}`);
    this.name = 'EwsProtocolError';
  }
}
