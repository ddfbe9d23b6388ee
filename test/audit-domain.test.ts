/** The missing-mail audit's comparison rules (domain/audit.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALERT_NAMES_CAP, type AuditOutcome, compareInventory, missingMailAlert } from '../src/domain/audit.js';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 8, minute)).toISOString();

describe('compareInventory', () => {
  test('accounted for by server id or Message-ID (a moved message has a new id); the rest missing, oldest first', () => {
    const entries = [
      { serverId: 'a', internetMessageId: '<a@x>', receivedAt: at(1) },
      { serverId: 'b-new', internetMessageId: 'b@x', receivedAt: at(2) },
      { serverId: 'c', internetMessageId: '<c@x>', receivedAt: at(3) },
      { serverId: 'd', internetMessageId: '<d@x>', receivedAt: at(9) },
      { serverId: 'e', receivedAt: at(5), subject: 'No id' },
      { serverId: 'f' },
      { serverId: 'g', internetMessageId: '<g@x>', receivedAt: at(7) },
      { serverId: 'a', internetMessageId: '<a@x>', receivedAt: at(1) },
    ];
    const outcomes: AuditOutcome[] = [
      { serverId: 'a', internetMessageId: '<a@x>', kind: 'tracked', rule: null },
      { serverId: 'b-old', internetMessageId: '<b@x>', kind: 'undeliverable', rule: null },
      { serverId: 'c', internetMessageId: null, kind: 'filtered', rule: 'none' },
      { serverId: 'zz', internetMessageId: '<g@x>', kind: 'failed', rule: null },
    ];
    const result = compareInventory(entries, outcomes, null);
    assert.equal(result.onServer, 7, 'listed twice is counted once');
    assert.equal(result.tracked, 1);
    assert.equal(result.filtered, 1);
    assert.deepEqual(result.filteredByRule, { none: 1 });
    assert.equal(result.failed, 2, 'failed and undeliverable');
    assert.deepEqual(result.missing.map((m) => m.serverId), ['e', 'd', 'f'], 'oldest first, no time last');
    assert.equal(result.gapBeganAt, at(5));
    assert.equal(result.onServer, result.tracked + result.filtered + result.failed + result.missing.length);
  });

  test('received before Process Email From is out of scope, unless it has an outcome; unknown times are in scope', () => {
    const from = new Date(at(5));
    const result = compareInventory(
      [
        { serverId: 'old', receivedAt: at(1) },
        { serverId: 'old-tracked', receivedAt: at(2) },
        { serverId: 'new', receivedAt: at(6) },
        { serverId: 'unknown' },
      ],
      [{ serverId: 'old-tracked', internetMessageId: null, kind: 'filtered', rule: 'before-process-email-from' }],
      from,
    );
    assert.equal(result.outOfScope, 1);
    assert.equal(result.onServer, 3);
    assert.deepEqual(result.missing.map((m) => m.serverId), ['new', 'unknown']);
  });

  test('nothing missing: no gap, no alert', () => {
    const result = compareInventory([{ serverId: 'a', receivedAt: at(1) }], [{ serverId: 'a', internetMessageId: null, kind: 'tracked', rule: null }], null);
    assert.deepEqual(result.missing, []);
    assert.equal(result.gapBeganAt, null);
    assert.equal(missingMailAlert({ id: 'm', address: 'u@x', profileId: 'p' }, result), null);
  });
});

describe('missingMailAlert', () => {
  test('names how many and which, oldest first, and when the gap began', () => {
    const entries = Array.from({ length: ALERT_NAMES_CAP + 3 }, (_, i) => ({ serverId: `s${i}`, subject: `Subject ${i}`, receivedAt: at(59 - i) }));
    const result = compareInventory(entries, [], null);
    const alert = missingMailAlert({ id: 'm', address: 'u@contoso.test', profileId: 'p' }, result)!;
    assert.equal(alert.level, 'warning');
    assert.equal(alert.scope, 'mailbox');
    assert.equal(alert.code, 'audit.missing-mail');
    assert.match(alert.message, /found 13 of 13 messages/);
    assert.match(alert.message, /and 3 more/);
    assert.ok(alert.message.indexOf(`Subject ${ALERT_NAMES_CAP + 2}`) < alert.message.indexOf('Subject 3"'), 'oldest first');
    assert.ok(alert.message.includes(`The gap began ${at(59 - ALERT_NAMES_CAP - 2)}`));
    assert.ok(alert.fix);
  });
});
