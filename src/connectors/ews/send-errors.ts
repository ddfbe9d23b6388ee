/**
 * A send whose outcome is unknown: the CreateItem request had left (or may have left) when the connection broke,
 * timed out or was cancelled, so Exchange may have sent the message and saved it to Sent Items without the
 * answer reaching Liaison. The engine must look for the Message-ID in Sent Items before it sends again.
 */
import { TransportError, type TransportErrorKind } from './transport/types.js';

/** Transport failures after which a request may have been processed: the answer, not the request, was lost. */
const AFTER_SENDING: ReadonlySet<TransportErrorKind> = new Set(['reset', 'timeout', 'aborted', 'other']);

export class EwsSendUncertainError extends Error {
  constructor(
    readonly mailbox: string,
    override readonly cause: TransportError,
  ) {
    super(`The send from ${mailbox} may or may not have happened: ${cause.message}`);
    this.name = 'EwsSendUncertainError';
  }
}

/** Whether a failure of a send leaves its outcome unknown (else the server certainly did not get the request). */
export function leavesSendUncertain(error: unknown): error is TransportError {
  return error instanceof TransportError && AFTER_SENDING.has(error.kind) && error.details.notSent !== true;
}
