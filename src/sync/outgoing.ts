/**
 * The outgoing half of a mailbox's cycle: emails in pending send go out through the sender's mailbox, with a
 * copy in Sent Items. Never twice: an email found in `sending` (an earlier attempt may have reached the server)
 * and an attempt whose outcome is unknown are looked for in Sent Items, by their Message-ID, before anything
 * else is done with them.
 */
import type { ClassifiedError, SendReceipt } from '../connectors/connector.js';
import type { AlertInput } from '../domain/alert.js';
import { checkLease, type CycleContext } from './cycle-context.js';
import type { OutgoingEmail } from './ports.js';

/** Emails claimed per cycle; the rest wait for the next. */
export const OUTGOING_PER_CYCLE = 20;
/** Attempts of one email before it is failed for good. */
export const MAX_SEND_ATTEMPTS = 3;
/**
 * After an attempt that timed out, how long the email is left alone before Sent Items is looked at again (and,
 * if it is not there, the email is sent again): a server carries out a request whose client has gone, as late as
 * it takes, so this is several times the profile's request timeout, and never less than SEND_SETTLE_MIN_MS.
 */
export const SEND_SETTLE_TIMEOUTS = 3;
export const SEND_SETTLE_MIN_MS = 10_000;
/** After a temporary refusal of one email (an SMTP 4xx), the wait before its next attempt: 30 s, then ×4. */
export const SEND_RETRY_BASE_MS = 30_000;

export function sendSettleMs(requestTimeoutSeconds: number): number {
  return Math.max(SEND_SETTLE_MIN_MS, SEND_SETTLE_TIMEOUTS * requestTimeoutSeconds * 1000);
}

export function sendRetryDelayMs(attempts: number, baseMs: number = SEND_RETRY_BASE_MS): number {
  return baseMs * 4 ** Math.max(0, attempts - 1);
}

export interface OutgoingCounts {
  sent: number;
  failed: number;
}

/** Thrown to end the outgoing half when the server asks to slow down or cannot be asked at all. */
export class OutgoingStopped extends Error {
  constructor(readonly error: unknown) {
    super('outgoing synchronization stopped');
    this.name = 'OutgoingStopped';
  }
}

export async function runOutgoing(context: CycleContext): Promise<OutgoingCounts> {
  const counts: OutgoingCounts = { sent: 0, failed: 0 };
  checkLease(context);
  const emails = await context.sync.claimOutgoing(context.lease, OUTGOING_PER_CYCLE);
  for (let index = 0; index < emails.length; index += 1) {
    const email = emails[index]!;
    try {
      await sendOne(context, email, counts);
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      // The server is busy or unreachable: the rest go back to pending send untried. (An email that may have
      // reached the server stays in sending and is looked for first next time.)
      for (const rest of emails.slice(index + 1)) {
        // One that may have reached the server already stays in sending, to be looked for first next time.
        if (rest.uncertain) continue;
        await context.sync.markSendFailed(context.lease, rest.activityId, 'not attempted: the server asked to slow down or could not be reached', false, null);
      }
      throw error instanceof OutgoingStopped ? error.error : error;
    }
  }
  return counts;
}

async function sendOne(context: CycleContext, email: OutgoingEmail, counts: OutgoingCounts): Promise<void> {
  const { sync, lease, session } = context;
  if (email.uncertain) {
    const found = await alreadySent(context, email);
    if (found === true) {
      await markSent(context, email, counts);
      return;
    }
    if (found === null) {
      await deliveryUncertain(context, email, 'an earlier attempt may have reached the server, and this server cannot tell whether it did');
      return;
    }
  }
  checkLease(context);
  const mime = await context.steps.buildOutgoingMime(email, context.organization);
  const settle = context.sendSettleMs ?? sendSettleMs(context.profile.requestTimeoutSeconds);
  // Before the request leaves: if this cycle never gets to record how it ended (its worker killed, Sent Items
  // not reachable afterwards), no other cycle looks for the email, or sends it, while the server may still be
  // carrying this attempt out. The soak saw a cycle whose Sent Items lookup was refused after a timeout leave the
  // email for the next cycle, which looked at once, found nothing yet, and sent it a second time.
  await sync.startAttempt(lease, email.activityId, new Date(context.now().getTime() + settle));
  let receipt: SendReceipt | void;
  try {
    receipt = await session.send({ mime, saveCopy: true });
  } catch (error) {
    const classified = context.connector.classify(error);
    if (classified.kind === 'uncertain') {
      // The request may have been carried out: only Sent Items can tell. If it cannot be asked now, the email
      // stays in sending and the next cycle looks first.
      const found = await alreadySent(context, email);
      if (found === true) {
        await markSent(context, email, counts);
        return;
      }
      if (found === null) {
        await deliveryUncertain(context, email, `${classified.message}${classified.serverResponse ? ` (${classified.serverResponse})` : ''}`);
        return;
      }
      // Not there yet is not proof: the server may still be carrying the send out, or not have saved the copy.
      // The email stays in sending and is left alone while the server may still carry it out (several request
      // timeouts); then a cycle looks again before it sends (claimOutgoing returns it as uncertain). Looking on
      // the very next cycle found nothing while the late request was still running, and sent it twice. When its
      // attempts are used up it is still unknown whether one went: a person decides, never "failed", whose fix
      // is to send it again.
      if (email.deliveryAttempts >= MAX_SEND_ATTEMPTS) {
        await deliveryUncertain(context, email, `${MAX_SEND_ATTEMPTS} attempts each ended without an answer (${classified.message}) and Sent Items does not show it yet`);
        return;
      }
      checkLease(context);
      await context.sync.settleSending(context.lease, email.activityId, `${describe(classified)}; Sent Items is looked at again before any new attempt`, new Date(context.now().getTime() + settle));
      return;
    }
    if (classified.kind === 'throttled' || isServerWide(classified)) {
      await sync.markSendFailed(lease, email.activityId, describe(classified), false, null);
      throw new OutgoingStopped(error);
    }
    await failed(context, email, classified, counts);
    return;
  }
  await markSent(context, email, counts);
  if (receipt?.warning) {
    await sync.raiseAlert({
      level: 'warning',
      scope: 'email',
      profileId: context.profile.id,
      mailboxId: context.mailbox.id,
      activityId: email.activityId,
      code: 'send.warning',
      message: `The email "${email.subject}" from ${context.mailbox.address} was sent, but: ${receipt.warning}`,
      serverResponse: null,
      fix: null,
    });
  }
}

/**
 * Nobody can tell whether the email went: it is set aside for a person (POST .../delivery says whether it
 * arrived), never sent again on its own, since sending twice is the one thing Liaison promises not to do.
 */
async function deliveryUncertain(context: CycleContext, email: OutgoingEmail, why: string): Promise<void> {
  checkLease(context);
  await context.sync.markDeliveryUncertain(context.lease, email.activityId, `delivery uncertain: ${why}`, {
    level: 'warning',
    scope: 'email',
    profileId: context.profile.id,
    mailboxId: context.mailbox.id,
    activityId: email.activityId,
    code: 'send.delivery-uncertain',
    message: `The email "${email.subject}" from ${context.mailbox.address} may or may not have been sent: ${why}. Liaison will not send it again by itself.`,
    serverResponse: null,
    fix: `Ask a recipient (${email.to.map((t) => t.address).join(', ') || 'the recipients'}) or look in the mail server's log for its Message-ID ${email.messageId}; then say whether it arrived with POST /api/v1/email-activities/${email.activityId}/delivery {"delivered": true|false} (false sends it again).`,
  });
}

/** EWS answers to a send that are about the mailbox or the account, not about this email. */
const MAILBOX_WIDE_CODES = new Set(['ews.ErrorImpersonateUserDenied', 'ews.ErrorImpersonationFailed', 'ews.ErrorNonExistentMailbox', 'ews.ErrorAccessDenied', 'ews.ErrorMailboxMoveInProgress', 'ews.ErrorMailboxStoreUnavailable']);

/**
 * Errors that are about the server, the account or the mailbox, not this email (a changed password, a server
 * that is down): the email goes back to pending send untouched by the verdict, and the cycle fails with the
 * error, so the failure policy (not the email's attempt count) deals with it.
 */
function isServerWide(error: ClassifiedError): boolean {
  return /^(transport|http|autodiscover)\./.test(error.code) || MAILBOX_WIDE_CODES.has(error.code);
}

/** Whether the email is in the sender's Sent folder; null when the server cannot tell. */
async function alreadySent(context: CycleContext, email: OutgoingEmail): Promise<boolean | null> {
  checkLease(context);
  try {
    return await context.session.findSent(email.messageId);
  } catch (error) {
    throw new OutgoingStopped(error);
  }
}

async function markSent(context: CycleContext, email: OutgoingEmail, counts: OutgoingCounts): Promise<void> {
  checkLease(context);
  await context.sync.markSent(context.lease, email.activityId, context.now().toISOString());
  counts.sent += 1;
  context.emit({
    type: 'sent',
    mailboxId: context.mailbox.id,
    address: context.mailbox.address,
    activityId: email.activityId,
    subject: email.subject,
    to: email.to.map((t) => t.address),
  });
}

/** A failed attempt: back to pending send while attempts remain (transient), failed for good otherwise. */
async function failed(context: CycleContext, email: OutgoingEmail, error: ClassifiedError, counts: OutgoingCounts): Promise<void> {
  const final = error.kind === 'permanent' || email.deliveryAttempts >= MAX_SEND_ATTEMPTS;
  const reason = describe(error);
  const alert: AlertInput | null = final
    ? {
        level: 'error',
        scope: 'email',
        profileId: context.profile.id,
        mailboxId: context.mailbox.id,
        activityId: email.activityId,
        code: error.code,
        message: `The email "${email.subject}" from ${context.mailbox.address} could not be sent${error.kind === 'permanent' ? '' : ` after ${email.deliveryAttempts} attempts`}: ${error.message}`,
        serverResponse: error.serverResponse,
        fix: error.fix ?? 'Correct the cause named above, then send the email again from the CRM.',
      }
    : null;
  checkLease(context);
  // A temporary refusal waits before the next attempt, so a server that is away for a moment (restarting) does not
  // use up the email's attempts in three quick cycles.
  const retryAt = final ? null : new Date(context.now().getTime() + sendRetryDelayMs(email.deliveryAttempts, context.sendRetryBaseMs));
  await context.sync.markSendFailed(context.lease, email.activityId, reason, final, alert, retryAt);
  if (final) counts.failed += 1;
}

function describe(error: ClassifiedError): string {
  return `${error.code}: ${error.message}`;
}
