import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { derivedMessageId, messageIdList, newMessageId, normalizeMessageId } from '../../src/domain/message-id.js';

describe('Message-IDs', () => {
  test('normalized to <local@domain>, case kept', () => {
    assert.equal(normalizeMessageId(' <Abc.1@Example.test> '), '<Abc.1@Example.test>');
    assert.equal(normalizeMessageId('abc@example.test'), '<abc@example.test>');
    assert.equal(normalizeMessageId('"comment" <abc@example.test> (x)'), '<abc@example.test>');
  });

  test('a value with no id in it is none', () => {
    for (const value of [null, undefined, '', '   ', '<>', 'two words']) assert.equal(normalizeMessageId(value), null, String(value));
  });

  test('lists in order, without repeats, from a string or from parts', () => {
    assert.deepEqual(messageIdList('<a@x> <b@x>\r\n <a@x>'), ['<a@x>', '<b@x>']);
    assert.deepEqual(messageIdList(['<a@x>', '<c@x> <b@x>']), ['<a@x>', '<c@x>', '<b@x>']);
    assert.deepEqual(messageIdList(null), []);
  });

  test('a derived id depends only on the bytes', () => {
    const a = derivedMessageId(Buffer.from('Subject: x\r\n\r\nbody'));
    assert.equal(a, derivedMessageId(Buffer.from('Subject: x\r\n\r\nbody')));
    assert.notEqual(a, derivedMessageId(Buffer.from('Subject: y\r\n\r\nbody')));
    assert.equal(normalizeMessageId(a), a);
  });

  test('a new id sits under the sender domain, lower-cased', () => {
    assert.equal(newMessageId('Sam@Contoso.TEST', 'u1'), '<u1@contoso.test>');
    assert.equal(newMessageId('no-at-sign', 'u2'), '<u2@liaison.invalid>');
  });
});
