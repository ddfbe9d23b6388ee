import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordRef } from '../../src/domain/activity.js';
import { DEFAULT_INCOMING_FILTER, type FilterFacts, incomingFilterRule } from '../../src/domain/incoming-filter.js';

const contact: RecordRef = { type: 'contact', id: 'c1' };
const user: RecordRef = { type: 'user', id: 'u1' };
const facts = (over: Partial<FilterFacts> = {}): FilterFacts => ({ autoReply: null, correlated: false, sender: null, ...over });

describe('incoming filter', () => {
  test('the default is responses to CRM email', () => {
    assert.equal(DEFAULT_INCOMING_FILTER, 'responses-to-crm-email');
  });

  test('all tracks everything, auto-replies included', () => {
    assert.equal(incomingFilterRule('all', facts()), null);
    assert.equal(incomingFilterRule('all', facts({ autoReply: 'Auto-Submitted auto-replied' })), null);
  });

  test('none filters everything, replies from contacts included', () => {
    assert.equal(incomingFilterRule('none', facts({ correlated: true, sender: contact })), 'filter:none');
  });

  test('responses to CRM email: only correlated email', () => {
    assert.equal(incomingFilterRule('responses-to-crm-email', facts({ correlated: true })), null);
    assert.equal(incomingFilterRule('responses-to-crm-email', facts({ sender: contact })), 'filter:responses-to-crm-email:not-a-response');
  });

  test('from CRM records: the sender resolved to a contact, account or lead', () => {
    for (const type of ['contact', 'account', 'lead'] as const) assert.equal(incomingFilterRule('from-crm-records', facts({ sender: { type, id: 'x' } })), null, type);
    assert.equal(incomingFilterRule('from-crm-records', facts({ sender: user })), 'filter:from-crm-records:sender-is-a-user');
    assert.equal(incomingFilterRule('from-crm-records', facts({ sender: { type: 'queue', id: 'q' } })), 'filter:from-crm-records:sender-is-a-queue');
    assert.equal(incomingFilterRule('from-crm-records', facts({ correlated: true })), 'filter:from-crm-records:sender-unresolved');
  });

  test('from email-enabled records: any resolved sender, users and queues included', () => {
    assert.equal(incomingFilterRule('from-email-enabled-records', facts({ sender: user })), null);
    assert.equal(incomingFilterRule('from-email-enabled-records', facts({ sender: { type: 'queue', id: 'q' } })), null);
    assert.equal(incomingFilterRule('from-email-enabled-records', facts()), 'filter:from-email-enabled-records:sender-unresolved');
  });

  test('under every narrower option an auto-reply is filtered, and the rule names why', () => {
    const reply = facts({ autoReply: 'Auto-Submitted auto-replied', correlated: true, sender: contact });
    for (const option of ['responses-to-crm-email', 'from-crm-records', 'from-email-enabled-records'] as const) {
      assert.equal(incomingFilterRule(option, reply), 'auto-reply:Auto-Submitted auto-replied', option);
    }
  });
});
