import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answeredMessageIds, threadIndexConversation } from '../../src/domain/correlation.js';

describe('correlation rules', () => {
  test('In-Reply-To first, then References from the newest, without repeats', () => {
    const ids = answeredMessageIds('<c@x>', ['<a@x>', '<b@x>', '<c@x>']);
    assert.deepEqual(ids, [
      { messageId: '<c@x>', by: 'in-reply-to' },
      { messageId: '<b@x>', by: 'references' },
      { messageId: '<a@x>', by: 'references' },
    ]);
  });

  test('References given as one folded header value are split', () => {
    assert.deepEqual(answeredMessageIds(null, ['<a@x>\r\n <b@x>']).map((c) => c.messageId), ['<b@x>', '<a@x>']);
  });

  test('nothing answered, nothing to look up', () => {
    assert.deepEqual(answeredMessageIds(null, []), []);
  });

  test("Thread-Index: the conversation is its 22-byte header, whatever replies appended", () => {
    const header = Buffer.alloc(22, 7);
    header[0] = 1;
    const reply = Buffer.concat([header, Buffer.from([1, 2, 3, 4, 5])]);
    const twoReplies = Buffer.concat([reply, Buffer.from([6, 7, 8, 9, 10])]);
    const expected = header.toString('base64');
    assert.equal(threadIndexConversation(header.toString('base64')), expected);
    assert.equal(threadIndexConversation(reply.toString('base64')), expected);
    assert.equal(threadIndexConversation(twoReplies.toString('base64')), expected);
  });

  test('a Thread-Index that is not base64 of 22 bytes names no conversation', () => {
    assert.equal(threadIndexConversation('not base64!'), null);
    assert.equal(threadIndexConversation(Buffer.alloc(10).toString('base64')), null);
    assert.equal(threadIndexConversation(''), null);
    assert.equal(threadIndexConversation(undefined), null);
  });
});
