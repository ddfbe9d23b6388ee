import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failedPercent, ownerNotification, ownerShouldBeNotified } from '../../src/domain/notification.js';

describe('owner notification rule', () => {
  test('the seed documents\' table: 15/10 and 40/30 notify, 1000/300 does not', () => {
    assert.equal(ownerShouldBeNotified({ processed: 15, failed: 10 }), true);
    assert.equal(failedPercent({ processed: 15, failed: 10 }), 67);
    assert.equal(ownerShouldBeNotified({ processed: 40, failed: 30 }), true);
    assert.equal(failedPercent({ processed: 40, failed: 30 }), 75);
    assert.equal(ownerShouldBeNotified({ processed: 1000, failed: 300 }), false);
    assert.equal(failedPercent({ processed: 1000, failed: 300 }), 30);
  });

  test('exactly half is not more than half, and nothing processed notifies nobody', () => {
    assert.equal(ownerShouldBeNotified({ processed: 10, failed: 5 }), false);
    assert.equal(ownerShouldBeNotified({ processed: 10, failed: 6 }), true);
    assert.equal(ownerShouldBeNotified({ processed: 0, failed: 0 }), false);
  });

  test('the email names the profile, the counts and where to look', () => {
    const mail = ownerNotification({ processed: 15, failed: 10, profileName: 'Contoso', since: new Date('2026-01-01T10:00:00Z') });
    assert.match(mail.subject, /67%.*Contoso/);
    assert.match(mail.bodyText, /10 of the 15 mailboxes/);
    assert.match(mail.bodyText, /Test & Enable/);
  });
});
