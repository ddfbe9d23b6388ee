import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClassifiedError } from '../../src/connectors/connector.js';
import { type CycleInput, decideCycle, FAILURE_BACKOFF_CAP_MS, MAX_CONSECUTIVE_FAILURES } from '../../src/domain/failure-policy.js';

const mailbox = { id: 'm1', address: 'alice@contoso.test', profileId: 'p1', incomingStatus: 'success' as const, outgoingStatus: 'success' as const };

function error(kind: ClassifiedError['kind'], extra: Partial<ClassifiedError> = {}): ClassifiedError {
  return { kind, code: `test.${kind}`, message: `a ${kind} error`, serverResponse: null, fix: null, backOffMs: null, ...extra };
}

function input(over: Partial<CycleInput>): CycleInput {
  return { mailbox, consecutiveFailures: 0, outcomes: { incoming: { ok: true } }, pollDelayMs: 5_000, ...over };
}

describe('failure policy', () => {
  test('success resets the count and is due after the polling delay', () => {
    const d = decideCycle(input({ consecutiveFailures: 4, outcomes: { incoming: { ok: true }, outgoing: { ok: true } } }));
    assert.equal(d.consecutiveFailures, 0);
    assert.equal(d.delayMs, 5_000);
    assert.equal(d.disable, false);
    assert.deepEqual(d.records.map((r) => [r.direction, r.status, r.alert]), [['incoming', 'success', null], ['outgoing', 'success', null]]);
  });

  test('throttling is not a failure: the count and status stay, the back-off hint is obeyed', () => {
    const d = decideCycle(input({ consecutiveFailures: 2, outcomes: { incoming: { ok: false, error: error('throttled', { backOffMs: 45_000 }) } } }));
    assert.equal(d.consecutiveFailures, 2);
    assert.equal(d.records[0]!.status, 'success');
    assert.equal(d.records[0]!.alert, null);
    assert.equal(d.delayMs, 45_000);
    assert.equal(d.disable, false);
    assert.equal(d.throttled, true);
  });

  test('a transient error fails the cycle, alerts on the first failure only, and backs off exponentially with a cap', () => {
    const first = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('transient') } } }));
    assert.equal(first.consecutiveFailures, 1);
    assert.equal(first.records[0]!.status, 'failure');
    assert.equal(first.records[0]!.alert?.level, 'error');
    const second = decideCycle(input({ consecutiveFailures: 1, outcomes: { incoming: { ok: false, error: error('transient') } } }));
    assert.equal(second.records[0]!.alert, null);
    assert.ok(second.delayMs > first.delayMs);
    const late = decideCycle(input({ consecutiveFailures: 8, outcomes: { incoming: { ok: false, error: error('transient') } } }));
    assert.ok(late.delayMs <= FAILURE_BACKOFF_CAP_MS);
    assert.equal(late.disable, false);
  });

  test(`the ${MAX_CONSECUTIVE_FAILURES}th failed cycle in a row disables the mailbox with an alert`, () => {
    const d = decideCycle(input({ consecutiveFailures: MAX_CONSECUTIVE_FAILURES - 1, outcomes: { incoming: { ok: false, error: error('transient') } } }));
    assert.equal(d.consecutiveFailures, MAX_CONSECUTIVE_FAILURES);
    assert.equal(d.disable, true);
    assert.match(d.records[0]!.alert!.message, /disabled/);
    assert.match(d.records[0]!.alert!.fix!, /Test & Enable/);
  });

  test('a permanent error disables at once with the fix the connector named', () => {
    const d = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('permanent', { fix: 'Update the service account password in the profile.' }) } } }));
    assert.equal(d.disable, true);
    assert.equal(d.records[0]!.disable, true);
    assert.match(d.records[0]!.alert!.fix!, /Update the service account password/);
    assert.equal(d.records[0]!.alert!.scope, 'mailbox');
    assert.equal(d.records[0]!.alert!.mailboxId, 'm1');
  });

  test('the worst direction decides; a fine direction still records success', () => {
    const d = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('throttled') }, outgoing: { ok: false, error: error('permanent') } } }));
    assert.equal(d.decidingError?.kind, 'permanent');
    assert.equal(d.disable, true);
    const mixed = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('transient') }, outgoing: { ok: true } } }));
    assert.deepEqual(mixed.records.map((r) => r.status), ['failure', 'success']);
    assert.equal(mixed.consecutiveFailures, 1);
  });

  test('a direction that succeeds beside one that fails keeps the failure as the last error, in whichever order they are recorded', () => {
    const mixed = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('transient') }, outgoing: { ok: true } } }));
    // The store writes the records one after the other; the last one written must not clear the mailbox's error.
    assert.deepEqual(mixed.records.map((r) => r.lastError), ['test.transient: a transient error', 'test.transient: a transient error']);
    const reversed = decideCycle(input({ outcomes: { incoming: { ok: true }, outgoing: { ok: false, error: error('permanent') } } }));
    assert.deepEqual(reversed.records.map((r) => r.lastError), ['test.permanent: a permanent error', 'test.permanent: a permanent error']);
    const fine = decideCycle(input({ outcomes: { incoming: { ok: true }, outgoing: { ok: true } } }));
    assert.deepEqual(fine.records.map((r) => r.lastError), [null, null]);
  });

  test('a transient error with a hint waits at least as long as the hint', () => {
    const d = decideCycle(input({ outcomes: { incoming: { ok: false, error: error('transient', { backOffMs: 120_000 }) } } }));
    assert.equal(d.delayMs, 120_000);
  });
});
