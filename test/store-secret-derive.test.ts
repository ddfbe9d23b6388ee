/**
 * SecretBox.derive: a 32-byte key per label, HMAC-SHA256 of the label under the store key — the same for every
 * SecretBox of one key, different per label and per store key, and not the store key itself.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { SecretBox, SecretKeyError } from '../src/store/secrets.js';

const storeKey = Buffer.alloc(32, 3);

test('derive gives HMAC-SHA256(store key, label), 32 bytes, the same from every SecretBox of that key', () => {
  const derived = new SecretBox(storeKey).derive('graph-notifications');
  assert.equal(derived.length, 32);
  assert.deepEqual(derived, createHmac('sha256', storeKey).update('graph-notifications').digest());
  assert.deepEqual(new SecretBox(Buffer.from(storeKey)).derive('graph-notifications'), derived);
  assert.notDeepEqual(derived, storeKey);
});

test('another label or another store key gives another key; an empty label is refused', () => {
  const box = new SecretBox(storeKey);
  assert.notDeepEqual(box.derive('graph-notifications'), box.derive('something-else'));
  assert.notDeepEqual(new SecretBox(Buffer.alloc(32, 4)).derive('graph-notifications'), box.derive('graph-notifications'));
  assert.throws(() => box.derive(''), SecretKeyError);
});
