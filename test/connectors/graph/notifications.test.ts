/**
 * The Graph clientState: it names its mailbox, verifies only under the key it was made with, refuses anything
 * altered, and stays within Graph's 128 characters; graphLifecycle delivers to listeners until they stop.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  MAX_CLIENT_STATE_LENGTH,
  addressFromClientState,
  clientStateFits,
  clientStateFor,
  graphLifecycle,
  notificationPath,
  onGraphLifecycle,
  type GraphLifecycleEvent,
} from '../../../src/connectors/graph/notifications.js';

const key = Buffer.alloc(32, 7);
const otherKey = Buffer.alloc(32, 8);

test('the notification path is the one the API server serves', () => {
  assert.equal(notificationPath, '/graph/notifications');
});

test('a clientState is base64url(address) "." base64url(HMAC-SHA256(key, lowercased address)) and gives its address back', () => {
  const state = clientStateFor(key, 'Anna.Berg@Contoso.test');
  const expectedMac = createHmac('sha256', key).update('anna.berg@contoso.test').digest('base64url');
  assert.equal(state, `${Buffer.from('Anna.Berg@Contoso.test').toString('base64url')}.${expectedMac}`);
  assert.equal(addressFromClientState(key, state), 'Anna.Berg@Contoso.test');
  assert.ok(state.length <= MAX_CLIENT_STATE_LENGTH);
  assert.match(state, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
});

test('the MAC does not depend on the case of the address; the same address always gives the same clientState', () => {
  const upper = clientStateFor(key, 'ANNA@CONTOSO.TEST').split('.')[1];
  const lower = clientStateFor(key, 'anna@contoso.test').split('.')[1];
  assert.equal(upper, lower);
  assert.equal(clientStateFor(key, 'anna@contoso.test'), clientStateFor(key, 'anna@contoso.test'));
});

test('a clientState made with another key, or altered, or not one at all, gives null', () => {
  const state = clientStateFor(key, 'anna@contoso.test');
  assert.equal(addressFromClientState(otherKey, state), null);
  const [encoded, mac] = state.split('.') as [string, string];
  const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
  assert.equal(addressFromClientState(key, `${encoded}.${flipped}`), null);
  // Another mailbox's name with this one's MAC.
  const other = Buffer.from('boss@contoso.test').toString('base64url');
  assert.equal(addressFromClientState(key, `${other}.${mac}`), null);
  for (const junk of [undefined, null, 42, '', '.', 'abc', `${encoded}.`, `.${mac}`, `${encoded}.${mac}.x`, `${encoded}=.${mac}`, 'x'.repeat(200), 'SecretClientState']) {
    assert.equal(addressFromClientState(key, junk), null, String(junk));
  }
});

test('a clientState longer than 128 characters is refused; addresses up to 63 bytes fit', () => {
  const fits = `${'a'.repeat(50)}@contoso.test`; // 63 bytes
  assert.equal(Buffer.byteLength(fits), 63);
  assert.equal(clientStateFits(fits), true);
  assert.equal(clientStateFor(key, fits).length, 128);
  const tooLong = `${'a'.repeat(51)}@contoso.test`;
  assert.equal(clientStateFits(tooLong), false);
  assert.throws(() => clientStateFor(key, tooLong), /too long for a Graph clientState.*polled only/);
  assert.throws(() => clientStateFor(key, ''), RangeError);
  assert.equal(clientStateFits(''), false);
});

test('graphLifecycle delivers each event to its listeners until they stop listening', () => {
  const seen: GraphLifecycleEvent[] = [];
  const stop = onGraphLifecycle((event) => seen.push(event));
  const first: GraphLifecycleEvent = { address: 'anna@contoso.test', event: 'missed', subscriptionId: 'sub-1' };
  graphLifecycle.emit('event', first);
  stop();
  graphLifecycle.emit('event', { address: 'anna@contoso.test', event: 'change', subscriptionId: null });
  assert.deepEqual(seen, [first]);
  assert.equal(graphLifecycle.listenerCount('event'), 0);
});
