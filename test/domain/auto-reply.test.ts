import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { autoReplyReason } from '../../src/domain/auto-reply.js';

const headers = (entries: Record<string, string>) => new Map(Object.entries(entries));
const plain = 'text/plain; charset=utf-8';

describe('auto-reply rules', () => {
  test('Auto-Submitted other than "no" is an auto-reply, and the reason names the keyword', () => {
    assert.equal(autoReplyReason(headers({ 'auto-submitted': 'auto-replied' }), plain), 'Auto-Submitted auto-replied');
    assert.equal(autoReplyReason(headers({ 'auto-submitted': 'Auto-Generated; owner-email="x@y.test"' }), plain), 'Auto-Submitted auto-generated');
    assert.equal(autoReplyReason(headers({ 'auto-submitted': 'auto-notified' }), plain), 'Auto-Submitted auto-notified');
  });

  test('"Auto-Submitted: no" (a person) and an empty value are not', () => {
    assert.equal(autoReplyReason(headers({ 'auto-submitted': 'no' }), plain), null);
    assert.equal(autoReplyReason(headers({ 'auto-submitted': ' NO ' }), plain), null);
    assert.equal(autoReplyReason(headers({ 'auto-submitted': '' }), plain), null);
  });

  test('multipart/report is a delivery or read report, named by its report type', () => {
    assert.equal(autoReplyReason(headers({}), 'multipart/report; report-type=delivery-status; boundary="b"'), 'multipart/report delivery-status');
    assert.equal(autoReplyReason(headers({}), 'Multipart/Report; boundary=b; report-type="disposition-notification"'), 'multipart/report disposition-notification');
    assert.equal(autoReplyReason(headers({}), 'multipart/report'), 'multipart/report');
    assert.equal(autoReplyReason(headers({}), 'multipart/mixed; boundary="report-type=delivery-status"'), null);
  });

  test('X-Autoreply and X-Autorespond mark responders, unless they say no', () => {
    assert.equal(autoReplyReason(headers({ 'x-autoreply': 'yes' }), plain), 'X-Autoreply yes');
    assert.equal(autoReplyReason(headers({ 'x-autorespond': 'Vacation' }), plain), 'X-Autorespond Vacation');
    assert.equal(autoReplyReason(headers({ 'x-autoreply': 'no' }), plain), null);
  });

  test('Precedence auto_reply is an auto-reply; bulk, junk and list are mass mail, not auto-replies', () => {
    assert.equal(autoReplyReason(headers({ precedence: 'auto_reply' }), plain), 'Precedence auto_reply');
    for (const value of ['bulk', 'junk', 'list']) assert.equal(autoReplyReason(headers({ precedence: value }), plain), null, value);
  });

  test('X-Auto-Response-Suppress alone is a request not to auto-reply, not an auto-reply', () => {
    for (const value of ['All', 'OOF', 'DR, OOF, AutoReply', 'DR, RN, NRN, OOF, AutoReply', 'None']) {
      assert.equal(autoReplyReason(headers({ 'x-auto-response-suppress': value }), plain), null, value);
    }
    // Mail a rule forwarded keeps its own suppress value; only "All" with the rules loop is Exchange's reply.
    assert.equal(autoReplyReason(headers({ 'x-auto-response-suppress': 'OOF', 'x-ms-exchange-inbox-rules-loop': 'a@b.test' }), plain), null);
  });

  test("Exchange's automatic reply (All, with the inbox-rules loop header) is one", () => {
    const reason = autoReplyReason(headers({ 'x-auto-response-suppress': 'All', 'x-ms-exchange-inbox-rules-loop': 'anna@fabrikam.test' }), plain);
    assert.match(reason ?? '', /^X-Auto-Response-Suppress All/);
  });

  test('an ordinary message is none of these', () => {
    assert.equal(autoReplyReason(headers({ subject: 'Out of office: lunch?', from: 'a@b.test' }), plain), null);
  });
});
