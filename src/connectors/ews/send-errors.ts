/**
 * A send whose outcome is unknown: the CreateItem request had left (or may have left) when the connection broke,
 * timed out or was cancelled, so Exchange may have sent the message and saved it to Sent Items without the
 * answer reaching Liaison. The engine must look for the Message-ID in Sent Items before it sends again.
 */
import { EwsHttpError, EwsProtocolError } from './soap/errors.js';
import { TransportError, type TransportErrorKind } from './transport/types.js';

/** Transport failures after which a request may have been processed: the answer, not the request, was lost. */
const AFTER_SENDING: ReadonlySet<TransportErrorKind> = new Set(['reset', 'timeout', 'aborted', 'other']);

/**
 * Answers of a proxy in front of Exchange that say the request reached it but not what came of it upstream:
 * 502 Bad Gateway (the upstream connection failed, possibly after the request was passed on) and 504 Gateway
 * Timeout (no answer from upstream in time; RFC 9110 15.6.3 and 15.6.5). Exchange itself answers a refused
 * send with a SOAP fault or a response code, whose outcome is known.
 */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 504]);

export type UncertainSendCause = TransportError | EwsHttpError | EwsProtocolError;

export class EwsSendUncertainError extends Error {
  constructor(
    readonly mailbox: string,
    override readonly cause: UncertainSendCause,
  ) {
    super(`The send from ${mailbox} may or may not have happened: ${cause.message}`);
    this.name = 'EwsSendUncertainError';
  }

  /** What left the outcome unknown, for the error's code: a transport kind, `http-502`, or `unreadable-answer`. */
  get reason(): string {
    if (this.cause instanceof TransportError) return this.cause.kind;
    if (this.cause instanceof EwsHttpError) return `http-${this.cause.details.httpStatus}`;
    return 'unreadable-answer';
  }
}

/**
 * Whether a failure of a send leaves its outcome unknown (else the server certainly did not get the request, or
 * said what it did with it): the connection broke after the request left, a gateway lost the upstream answer,
 * or an answer came that cannot be read (the request was received and may have been carried out).
 */
export function leavesSendUncertain(error: unknown): error is UncertainSendCause {
  if (error instanceof TransportError) return AFTER_SENDING.has(error.kind) && error.details.notSent !== true;
  if (error instanceof EwsHttpError) return GATEWAY_STATUSES.has(error.details.httpStatus);
  return error instanceof EwsProtocolError;
}
