import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { derivedMessageId } from '../../../src/domain/message-id.js';
import { parseIncoming } from '../../../src/sync/pipeline/parse.js';
import type { ParsedEmail } from '../../../src/sync/pipeline/types.js';
import { fixture, input } from './fixtures.js';

async function parsed(name: string, extra: Parameters<typeof input>[1] = {}): Promise<ParsedEmail> {
  const result = await parseIncoming(input(name, extra));
  assert.ok(result.ok, result.ok ? '' : `${name}: ${result.failure.code} ${result.failure.message}`);
  return result.email;
}

describe('parse', () => {
  test('a reply: parties with names, threading headers, dates, body and lower-cased headers', async () => {
    const email = await parsed('reply-in-reply-to.eml');
    assert.equal(email.internetMessageId, '<b2c4e6a8.1001@mail.fabrikam.test>');
    assert.equal(email.derivedId, false);
    assert.equal(email.subject, 'RE: Quote for 40 licences');
    assert.deepEqual(email.from, [{ address: 'anna.berg@fabrikam.test', displayName: 'Anna Berg' }]);
    assert.deepEqual(email.to, [{ address: 'sam@contoso.test', displayName: 'Sam Sales' }]);
    assert.deepEqual(email.cc, [{ address: 'purchasing@fabrikam.test', displayName: null }]);
    assert.deepEqual(email.bcc, []);
    assert.equal(email.inReplyTo, '<crm-sent-0001@contoso.test>');
    assert.deepEqual(email.references, ['<crm-first-0000@contoso.test>', '<crm-sent-0001@contoso.test>']);
    assert.equal(email.sentAt, '2026-12-01T09:14:55.000Z');
    // No receivedAt from the listing: the newest Received header says when it arrived.
    assert.equal(email.receivedAt, '2026-12-01T09:15:02.000Z');
    assert.match(email.bodyText ?? '', /go ahead with 40 licences/);
    assert.equal(email.bodyHtml, null);
    assert.equal(email.headers.get('in-reply-to'), '<crm-sent-0001@contoso.test>');
    assert.match(email.contentType, /^text\/plain/);
    assert.equal(email.conversationId, null);
  });

  test("the listing's receivedAt and ConversationId win over what the MIME says", async () => {
    const email = await parsed('outlook-thread-index.eml', { receivedAt: '2026-12-01T12:45:09.000Z', conversationId: 'AAQkAGI2TGuLAAA=' });
    assert.equal(email.receivedAt, '2026-12-01T12:45:09.000Z');
    assert.equal(email.conversationId, 'AAQkAGI2TGuLAAA=');
  });

  test('without a server ConversationId, the conversation is the first 22 bytes of Thread-Index', async () => {
    const email = await parsed('outlook-thread-index.eml');
    const threadIndex = email.headers.get('thread-index')!;
    assert.equal(Buffer.from(threadIndex, 'base64').length, 27);
    assert.equal(email.conversationId, Buffer.from(threadIndex, 'base64').subarray(0, 22).toString('base64'));
    assert.equal(email.inReplyTo, null);
    assert.match(email.bodyHtml ?? '', /Thread-Index/);
    assert.match(email.bodyText ?? '', /Thread-Index/);
  });

  test('a folded References header and a mixed-case address are read as written', async () => {
    const email = await parsed('reply-references-only.eml');
    assert.equal(email.inReplyTo, null);
    assert.deepEqual(email.references, ['<crm-first-0000@contoso.test>', '<unknown-9999@elsewhere.test>', '<crm-sent-0001@contoso.test>']);
    assert.deepEqual(email.from, [{ address: 'Anna.Berg@Fabrikam.test', displayName: 'Berg, Anna' }]);
  });

  test("no Message-ID: the listing's id, normalized; with neither, one derived from the bytes", async () => {
    const listed = await parsed('no-message-id.eml', { internetMessageId: 'listed-42@exch.contoso.test' });
    assert.equal(listed.internetMessageId, '<listed-42@exch.contoso.test>');
    assert.equal(listed.derivedId, false);
    const derived = await parsed('no-message-id.eml');
    assert.equal(derived.internetMessageId, derivedMessageId(fixture('no-message-id.eml')));
    assert.equal(derived.derivedId, true);
  });

  test("the MIME's Message-ID wins over the listing's", async () => {
    const email = await parsed('reply-in-reply-to.eml', { internetMessageId: '<other@x.test>' });
    assert.equal(email.internetMessageId, '<b2c4e6a8.1001@mail.fabrikam.test>');
  });

  test('ISO-8859-1 body, subject and sender name come out as text', async () => {
    const email = await parsed('iso-8859-1.eml');
    assert.equal(email.subject, 'Grüße aus Köln');
    assert.deepEqual(email.from, [{ address: 'joerg.mueller@fabrikam.test', displayName: 'Jörg Müller' }]);
    assert.match(email.bodyText ?? '', /Schöne Grüße, Jörg/);
  });

  test('attachments keep their names, types and bytes', async () => {
    const email = await parsed('attachment-over-limit.eml');
    assert.deepEqual(email.attachments.map((a) => [a.fileName, a.contentType, a.content.length]), [
      ['drawing.pdf', 'application/pdf', 6000],
      ['notes.txt', 'text/plain', 11],
    ]);
    assert.equal(email.attachments[1]!.content.toString(), 'small notes');
  });

  test('a part without a file name is named by its type, so an executable still meets the blocked extensions', async () => {
    const mime = [
      'Subject: nameless',
      'Message-ID: <nameless@x.test>',
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'see attached',
      '--m',
      'Content-Type: application/x-msdownload',
      'Content-Disposition: attachment',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('MZ....').toString('base64'),
      '--m',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment',
      '',
      'raw',
      '--m--',
      '',
    ].join('\r\n');
    const result = await parseIncoming({ serverId: 's', mime: Buffer.from(mime) });
    assert.ok(result.ok);
    assert.deepEqual(result.email.attachments.map((a) => a.fileName), ['attachment-1.exe', 'attachment-2']);
  });

  test('a delivery report keeps its multipart/report content type for the detector', async () => {
    const email = await parsed('ndr-delivery-report.eml');
    assert.match(email.contentType, /^multipart\/report; report-type=delivery-status/);
  });

  test('bytes that are not a message fail with mime.not-a-message and say why; the listed id is kept', async () => {
    const result = await parseIncoming(input('garbage.bin', { internetMessageId: '<listed@x.test>' }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.failure.code, 'mime.not-a-message');
    assert.match(result.failure.message, /no header section/);
    assert.equal(result.failure.internetMessageId, '<listed@x.test>');
  });

  test('plain text and empty bytes are not messages either', async () => {
    for (const mime of [Buffer.from('hello world\r\nthis is not mail\r\n'), Buffer.alloc(0)]) {
      const result = await parseIncoming({ serverId: 's', mime });
      assert.equal(result.ok ? 'ok' : result.failure.code, 'mime.not-a-message');
    }
  });

  test('mailparser rejecting a message (parts nested past its limit) is a mime.unparseable failure with its reason', async () => {
    const nested = Array.from({ length: 2000 }, (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`).join('');
    const result = await parseIncoming({ serverId: 's', mime: Buffer.from(`Subject: nested\r\n${nested}`), internetMessageId: '<n@x.test>' });
    assert.equal(result.ok ? 'ok' : result.failure.code, 'mime.unparseable');
    if (result.ok) return;
    assert.match(result.failure.message, /could not be read: .*child nodes/);
    assert.equal(result.failure.internetMessageId, '<n@x.test>');
  });

  test('an unreadable Date header gives no sent time, not the time of parsing', async () => {
    const result = await parseIncoming({ serverId: 's', mime: Buffer.from('Subject: x\r\nDate: not a date\r\n\r\nhi\r\n'), receivedAt: '2026-12-01T00:00:00.000Z' });
    assert.ok(result.ok);
    assert.equal(result.email.sentAt, null);
  });
});
