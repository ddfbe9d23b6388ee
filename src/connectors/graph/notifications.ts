/**
 * Graph change notifications: what the change feed (which makes the subscriptions) and the API route (which
 * receives the notifications) share.
 *
 * - The `clientState` of a subscription names its mailbox and proves that a notification comes from the service
 *   that was given it (concepts/webhooks.md: "Validate the clientState property"; subscription.md: at most 128
 *   characters). It is `base64url(address) + "." + base64url(HMAC-SHA256(key, lowercased address))`, with the key
 *   `store.secretBox.derive('graph-notifications')`: every process of one store computes the same value, and no
 *   one without the store's key can make one. An address longer than 63 bytes (UTF-8) does not fit in 128
 *   characters: clientStateFor throws, and that mailbox is polled only.
 * - `graphLifecycle` carries what the route received to the feeds of the same process, at once; feeds of other
 *   processes find the change at their periodic check (polling stays the source of truth).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** The route of Liaison's API server at which Microsoft Graph posts notifications (notificationUrl = publicUrl + this). */
export const notificationPath = '/graph/notifications';

/** The label under which the store key derives the clientState key: `store.secretBox.derive(notificationKeyLabel)`. */
export const notificationKeyLabel = 'graph-notifications';

/** The clientState key of a store: the same in every process that opens it. */
export function notificationKey(secretBox: { derive(label: string): Buffer }): Buffer {
  return secretBox.derive(notificationKeyLabel);
}

/** subscription.md: "The maximum length is 128 characters." */
export const MAX_CLIENT_STATE_LENGTH = 128;

const MAC_LENGTH = 32;

export type GraphLifecycleKind = 'change' | 'missed' | 'reauthorizationRequired' | 'subscriptionRemoved';

export interface GraphLifecycleEvent {
  /** The mailbox the notification was for, as its clientState names it. */
  address: string;
  /** 'change' for an ordinary change notification, otherwise the notification's lifecycleEvent. */
  event: GraphLifecycleKind;
  subscriptionId: string | null;
}

export interface GraphLifecycleEvents {
  event: [GraphLifecycleEvent];
}

/** The process-wide channel from the notification route to the Graph change feeds: listen to 'event'. */
export const graphLifecycle = new EventEmitter<GraphLifecycleEvents>();
// Every Graph change feed of the process listens; many profiles must not trigger the leak warning.
graphLifecycle.setMaxListeners(0);

/** Listens to graphLifecycle's 'event'; returns the function that stops listening. */
export function onGraphLifecycle(listener: (event: GraphLifecycleEvent) => void): () => void {
  graphLifecycle.on('event', listener);
  return () => {
    graphLifecycle.off('event', listener);
  };
}

function mac(key: Buffer, address: string): Buffer {
  return createHmac('sha256', key).update(address.toLowerCase(), 'utf8').digest();
}

/** Whether an address's clientState fits Graph's 128 characters. */
export function clientStateFits(address: string): boolean {
  const bytes = Buffer.byteLength(address, 'utf8');
  // base64url without padding: ceil(4n/3) characters; then the dot and the 43 characters of the MAC.
  return bytes > 0 && Math.ceil((4 * bytes) / 3) + 1 + 43 <= MAX_CLIENT_STATE_LENGTH;
}

/** The clientState for a mailbox's subscription. Throws a RangeError when the address is empty or too long for it. */
export function clientStateFor(key: Buffer, address: string): string {
  if (address === '') throw new RangeError('A clientState needs a mailbox address');
  const value = `${Buffer.from(address, 'utf8').toString('base64url')}.${mac(key, address).toString('base64url')}`;
  if (value.length > MAX_CLIENT_STATE_LENGTH) {
    throw new RangeError(
      `The mailbox address ${address} is too long for a Graph clientState (${value.length} characters; Graph allows ${MAX_CLIENT_STATE_LENGTH}): that mailbox is polled only`,
    );
  }
  return value;
}

/** The mailbox a clientState names, when its MAC verifies under the key (compared in constant time); else null. */
export function addressFromClientState(key: Buffer, clientState: unknown): string | null {
  if (typeof clientState !== 'string' || clientState.length > MAX_CLIENT_STATE_LENGTH) return null;
  const dot = clientState.indexOf('.');
  if (dot <= 0 || dot !== clientState.lastIndexOf('.')) return null;
  const encodedAddress = clientState.slice(0, dot);
  const encodedMac = clientState.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(encodedAddress) || !/^[A-Za-z0-9_-]{43}$/.test(encodedMac)) return null;
  const addressBytes = Buffer.from(encodedAddress, 'base64url');
  // Only the canonical encoding counts: one address, one clientState.
  if (addressBytes.toString('base64url') !== encodedAddress) return null;
  const address = addressBytes.toString('utf8');
  if (address === '' || Buffer.from(address, 'utf8').toString('base64url') !== encodedAddress) return null;
  const given = Buffer.from(encodedMac, 'base64url');
  if (given.length !== MAC_LENGTH || given.toString('base64url') !== encodedMac) return null;
  return timingSafeEqual(given, mac(key, address)) ? address : null;
}
