import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_TRACKING_TOKEN, findTrackingToken, formatTrackingToken, subjectWithToken } from '../../src/domain/tracking-token.js';

describe('tracking tokens', () => {
  test('formatted with the prefix and zero-padded digits; a larger number keeps all its digits', () => {
    assert.equal(formatTrackingToken(DEFAULT_TRACKING_TOKEN, 42), 'CRM:0000042');
    assert.equal(formatTrackingToken({ prefix: 'T#', digits: 3 }, 12345), 'T#12345');
  });

  test('only positive safe integers make tokens', () => {
    for (const n of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1]) assert.throws(() => formatTrackingToken(DEFAULT_TRACKING_TOKEN, n), RangeError);
  });

  test('found anywhere in a subject, the prefix without regard to case, given back in the configured case', () => {
    assert.equal(findTrackingToken(DEFAULT_TRACKING_TOKEN, 'RE: Quote CRM:0000042'), 'CRM:0000042');
    assert.equal(findTrackingToken(DEFAULT_TRACKING_TOKEN, 'AW: [crm:0000042] Angebot'), 'CRM:0000042');
  });

  test('too few digits, a longer word or no token at all: none', () => {
    assert.equal(findTrackingToken(DEFAULT_TRACKING_TOKEN, 'CRM:12'), null);
    assert.equal(findTrackingToken(DEFAULT_TRACKING_TOKEN, 'XCRM:0000042'), null);
    assert.equal(findTrackingToken(DEFAULT_TRACKING_TOKEN, 'Quote'), null);
  });

  test('a prefix with characters that mean something in a pattern is matched literally', () => {
    const format = { prefix: '[T+', digits: 2 };
    assert.equal(findTrackingToken(format, 'Re: x [T+07'), '[T+07');
    assert.equal(findTrackingToken(format, 'Re: x [TT07'), null);
  });

  test('added once at the end of the subject; an empty subject becomes the token', () => {
    assert.equal(subjectWithToken(DEFAULT_TRACKING_TOKEN, 'Quote', 'CRM:0000042'), 'Quote CRM:0000042');
    assert.equal(subjectWithToken(DEFAULT_TRACKING_TOKEN, 'Quote CRM:0000042', 'CRM:0000042'), 'Quote CRM:0000042');
    assert.equal(subjectWithToken(DEFAULT_TRACKING_TOKEN, '  ', 'CRM:0000042'), 'CRM:0000042');
  });
});
