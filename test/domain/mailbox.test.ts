import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { addressChanged, applyMailboxChange, type MailboxState } from '../../src/domain/mailbox.js';

const fresh: MailboxState = {
  profileId: null,
  approvalStatus: 'empty',
  enabled: false,
  incomingMethod: 'server-side-sync',
  outgoingMethod: 'server-side-sync',
  incomingStatus: 'not-run',
  outgoingStatus: 'not-run',
};

describe('mailbox rules', () => {
  test('an unapproved address cannot be enabled, and the refusal says to approve it', () => {
    assert.throws(
      () => applyMailboxChange({ ...fresh, profileId: 'p' }, { enabled: true }),
      (error: unknown) => error instanceof ValidationError && /approve/.test(error.message),
    );
  });

  test('a mailbox without a profile cannot be enabled', () => {
    assert.throws(
      () => applyMailboxChange({ ...fresh, approvalStatus: 'approved' }, { enabled: true }),
      (error: unknown) => error instanceof ValidationError && /profile/.test(error.message),
    );
  });

  test('approved and associated, it can be enabled', () => {
    const next = applyMailboxChange({ ...fresh, approvalStatus: 'approved', profileId: 'p' }, { enabled: true });
    assert.equal(next.enabled, true);
  });

  test('another profile disables the mailbox and resets its statuses', () => {
    const running: MailboxState = { ...fresh, approvalStatus: 'approved', profileId: 'p', enabled: true, incomingStatus: 'success', outgoingStatus: 'failure' };
    const next = applyMailboxChange(running, { profileId: 'q' });
    assert.deepEqual([next.enabled, next.incomingStatus, next.outgoingStatus, next.profileId], [false, 'not-run', 'not-run', 'q']);
    const same = applyMailboxChange(running, { profileId: 'p' });
    assert.equal(same.enabled, true, 'associating with the same profile changes nothing');
  });

  test('rejecting the address disables the mailbox', () => {
    const running: MailboxState = { ...fresh, approvalStatus: 'approved', profileId: 'p', enabled: true };
    assert.equal(applyMailboxChange(running, { approvalStatus: 'rejected' }).enabled, false);
  });

  test('a new address starts approval over', () => {
    const running: MailboxState = { ...fresh, approvalStatus: 'approved', profileId: 'p', enabled: true, incomingStatus: 'success' };
    const next = addressChanged(running);
    assert.deepEqual([next.approvalStatus, next.enabled, next.incomingStatus], ['empty', false, 'not-run']);
  });
});
