/**
 * Editing a stored message's attachment parts in place: what is not edited stays byte for byte, and mailparser
 * (which reads every stored message) sees the result as intended.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { appendPart, removePart } from '../../src/sandbox/state/mime-parts.js';

const filePart = (name: string, content: string) =>
  Buffer.from(`Content-Type: text/plain; name=${name}\r\nContent-Disposition: attachment; filename=${name}\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(content).toString('base64')}`);

describe('sandbox MIME parts', () => {
  test('a single-part message (LF line endings) is wrapped: its headers stay, its body becomes the first part', async () => {
    const original = Buffer.from('From: a@x.test\nSubject: Plain\nMessage-ID: <p@x.test>\nContent-Type: text/plain; charset=utf-8\n\nLine one\nLine two\n');
    const edited = appendPart(original, filePart('a.txt', 'alpha'));
    const text = edited.toString();
    assert.ok(text.startsWith('From: a@x.test\nSubject: Plain\nMessage-ID: <p@x.test>\n'), text);
    assert.ok(!text.includes('\r\n'), 'the message keeps its line endings');
    const parsed = await simpleParser(edited);
    assert.equal(parsed.text, 'Line one\nLine two');
    assert.deepEqual(parsed.attachments.map((a) => [a.filename, a.content.toString()]), [['a.txt', 'alpha']]);
    assert.equal(parsed.messageId, '<p@x.test>');
  });

  test('appending to multipart/mixed adds a part before the closing delimiter and keeps the rest byte for byte', async () => {
    const head = 'From: a@x.test\r\nSubject: Mixed\r\nContent-Type: multipart/mixed;\r\n boundary="b1"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nbody\r\n';
    const original = Buffer.from(`${head}--b1--\r\nepilogue\r\n`);
    const edited = appendPart(original, filePart('b.txt', 'beta'));
    assert.ok(edited.toString().startsWith(head), 'everything before the closing delimiter is unchanged');
    assert.ok(edited.toString().endsWith('--b1--\r\nepilogue\r\n'));
    const parsed = await simpleParser(edited);
    assert.equal(parsed.text, 'body');
    assert.deepEqual(parsed.attachments.map((a) => a.filename), ['b.txt']);
  });

  test('a nested part is removed by its number; the others stay', async () => {
    const original = Buffer.from(
      [
        'From: a@x.test',
        'Content-Type: multipart/mixed; boundary="outer"',
        '',
        '--outer',
        'Content-Type: multipart/related; boundary="inner"',
        '',
        '--inner',
        'Content-Type: text/html',
        '',
        '<p>hi <img src="cid:logo"></p>',
        '--inner',
        'Content-Type: image/png; name=logo.png',
        'Content-ID: <logo>',
        'Content-Disposition: inline; filename=logo.png',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('PNG').toString('base64'),
        '--inner--',
        '--outer',
        'Content-Type: application/pdf; name=c.pdf',
        'Content-Disposition: attachment; filename=c.pdf',
        '',
        '%PDF',
        '--outer--',
        '',
      ].join('\r\n'),
    );
    const before = await simpleParser(original);
    assert.deepEqual(before.attachments.map((a) => [a.filename, (a as { partId?: string }).partId]), [['logo.png', '1.2'], ['c.pdf', '2']]);
    const withoutLogo = await simpleParser(removePart(original, '1.2'));
    assert.deepEqual(withoutLogo.attachments.map((a) => a.filename), ['c.pdf']);
    assert.equal(withoutLogo.html, '<p>hi <img src="cid:logo"></p>');
    const withoutPdf = await simpleParser(removePart(original, '2'));
    assert.deepEqual(withoutPdf.attachments.map((a) => a.filename), ['logo.png']);
  });
});
