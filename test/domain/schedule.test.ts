import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { effectiveProcessEmailFrom, pollDelayMs, PUSH_POLL_FLOOR_MS, receivedBefore } from '../../src/domain/schedule.js';

describe('schedule', () => {
  test('0 minutes polls at the floor; a configured interval wins over the floor', () => {
    assert.equal(pollDelayMs({ minPollingIntervalMinutes: 0 }), 5_000);
    assert.equal(pollDelayMs({ minPollingIntervalMinutes: 0 }, { pollFloorMs: 200 }), 200);
    assert.equal(pollDelayMs({ minPollingIntervalMinutes: 3 }, { pollFloorMs: 200 }), 180_000);
  });

  test('with a healthy push feed polling slows to its own floor but never stops', () => {
    assert.equal(pollDelayMs({ minPollingIntervalMinutes: 0 }, { pushHealthy: true }), PUSH_POLL_FLOOR_MS);
    assert.equal(pollDelayMs({ minPollingIntervalMinutes: 5 }, { pushHealthy: true }), 300_000);
  });

  test('Process Email From is the later of the profile\'s and the mailbox\'s', () => {
    assert.equal(effectiveProcessEmailFrom(null, null), null);
    assert.equal(effectiveProcessEmailFrom('2026-01-01T00:00:00Z', null)?.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(effectiveProcessEmailFrom('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')?.toISOString(), '2026-02-01T00:00:00.000Z');
    assert.equal(effectiveProcessEmailFrom('2026-03-01T00:00:00Z', '2026-02-01T00:00:00Z')?.toISOString(), '2026-03-01T00:00:00.000Z');
  });

  test('only a message known to be older is "before"; an unknown time is processed', () => {
    const from = new Date('2026-02-01T00:00:00Z');
    assert.equal(receivedBefore('2026-01-31T23:59:59Z', from), true);
    assert.equal(receivedBefore('2026-02-01T00:00:00Z', from), false);
    assert.equal(receivedBefore(undefined, from), false);
    assert.equal(receivedBefore('not a date', from), false);
    assert.equal(receivedBefore('2020-01-01T00:00:00Z', null), false);
  });
});
