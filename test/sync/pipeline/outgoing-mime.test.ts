import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildOutgoingMime } from '../../../src/sync/outgoing-mime.js';
import { parseIncoming } from '../../../src/sync/pipeline/parse.js';
import type { OutgoingEmail } from '../../../src/sync/ports.js';
import { ORGANIZATION } from './lookups-double.js';

const pdf = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) % 256));

const email = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  activityId: 'act-77',
  messageId: '<liaison.77.f00d@contoso.test>',
  subject: 'RE: Quote for 40 licences',
  trackingToken: 'CRM:0000077',
  bodyText: 'Here is the updated quote.\n\nSam',
  bodyHtml: '<p>Here is the <b>updated</b> quote.</p><p>Sam</p>',
  from: { address: 'sam@contoso.test', displayName: 'Sam Sales' },
  to: [{ address: 'anna.berg@fabrikam.test', displayName: 'Berg, Anna' }],
  cc: [{ address: 'purchasing@fabrikam.test', displayName: null }],
  bcc: [{ address: 'archive@contoso.test', displayName: 'Archive' }],
  inReplyTo: '<b2c4e6a8.1001@mail.fabrikam.test>',
  references: ['<crm-sent-0001@contoso.test>', '<b2c4e6a8.1001@mail.fabrikam.test>'],
  attachments: [
    { fileName: 'quote-v2.pdf', contentType: 'application/pdf', content: pdf },
    { fileName: 'Übersicht.txt', contentType: 'text/plain', content: Buffer.from('Zusammenfassung') },
  ],
  deliveryAttempts: 1,
  uncertain: false,
  ...over,
});

async function roundTrip(outgoing: OutgoingEmail, organization = ORGANIZATION) {
  const mime = await buildOutgoingMime(outgoing, organization, { now: new Date('2026-12-01T10:00:00Z') });
  const result = await parseIncoming({ serverId: 'sent-copy', mime });
  if (!result.ok) throw new Error(result.failure.message);
  return { mime, email: result.email };
}

describe('outgoing MIME', () => {
  test('round trip: parse.ts reads back the Message-ID, token, threading headers, parties, bodies and attachments', async () => {
    const { email: back } = await roundTrip(email());
    assert.equal(back.internetMessageId, '<liaison.77.f00d@contoso.test>');
    assert.equal(back.derivedId, false);
    assert.equal(back.subject, 'RE: Quote for 40 licences CRM:0000077');
    assert.equal(back.inReplyTo, '<b2c4e6a8.1001@mail.fabrikam.test>');
    assert.deepEqual(back.references, ['<crm-sent-0001@contoso.test>', '<b2c4e6a8.1001@mail.fabrikam.test>']);
    assert.deepEqual(back.from, [{ address: 'sam@contoso.test', displayName: 'Sam Sales' }]);
    assert.deepEqual(back.to, [{ address: 'anna.berg@fabrikam.test', displayName: 'Berg, Anna' }]);
    assert.deepEqual(back.cc, [{ address: 'purchasing@fabrikam.test', displayName: null }]);
    assert.deepEqual(back.bcc, [{ address: 'archive@contoso.test', displayName: 'Archive' }]);
    assert.equal(back.sentAt, '2026-12-01T10:00:00.000Z');
    assert.match(back.bodyText ?? '', /updated quote/);
    assert.match(back.bodyHtml ?? '', /<b>updated<\/b>/);
    assert.deepEqual(back.attachments.map((a) => [a.fileName, a.contentType]), [['quote-v2.pdf', 'application/pdf'], ['Übersicht.txt', 'text/plain']]);
    assert.ok(back.attachments[0]!.content.equals(pdf));
    assert.equal(back.attachments[1]!.content.toString(), 'Zusammenfassung');
  });

  test('every attempt writes the stored Message-ID, never a new one', async () => {
    const first = await buildOutgoingMime(email(), ORGANIZATION);
    const retry = await buildOutgoingMime(email({ deliveryAttempts: 2, uncertain: true }), ORGANIZATION);
    for (const mime of [first, retry]) {
      const ids = mime.toString('latin1').match(/^Message-ID: .*$/gim) ?? [];
      assert.deepEqual(ids.map((line) => line.replace(/^Message-ID:\s*/i, '').trim()), ['<liaison.77.f00d@contoso.test>']);
    }
  });

  test('Bcc is kept in the headers given to Exchange', async () => {
    const { mime } = await roundTrip(email());
    assert.match(mime.toString('latin1'), /^Bcc: Archive <archive@contoso\.test>\r$/m);
  });

  test('a subject that carries the token already gets it once; no token leaves the subject alone', async () => {
    const once = await roundTrip(email({ subject: 'Quote CRM:0000077' }));
    assert.equal(once.email.subject, 'Quote CRM:0000077');
    const none = await roundTrip(email({ trackingToken: null }));
    assert.equal(none.email.subject, 'RE: Quote for 40 licences');
  });

  test("the token follows the organization's format when it is found again in the reply", async () => {
    const organization = { ...ORGANIZATION, trackingTokenPrefix: 'TKT#', trackingTokenDigits: 5 };
    const { email: back } = await roundTrip(email({ subject: 'Offer', trackingToken: 'TKT#00077' }), organization);
    assert.equal(back.subject, 'Offer TKT#00077');
  });

  test('a long subject is shortened so that the token still fits in the 255 characters Exchange keeps', async () => {
    const { email: back } = await roundTrip(email({ subject: 'Ä'.repeat(300) }));
    assert.equal([...back.subject].length, 255);
    assert.ok(back.subject.endsWith(' CRM:0000077'));
  });

  test('a text-only email without threading headers, recipients on To only', async () => {
    const { mime, email: back } = await roundTrip(
      email({ bodyHtml: null, inReplyTo: null, references: [], cc: [], bcc: [], attachments: [], trackingToken: null, subject: 'Hello' }),
    );
    assert.equal(back.inReplyTo, null);
    assert.deepEqual(back.references, []);
    assert.equal(back.bodyHtml, null);
    assert.match(back.bodyText ?? '', /updated quote/);
    assert.doesNotMatch(mime.toString('latin1'), /^(Bcc|Cc|In-Reply-To|References):/im);
  });

  test('a stored Message-ID that is not one is refused, not replaced', async () => {
    await assert.rejects(buildOutgoingMime(email({ messageId: '' }), ORGANIZATION), /act-77 has no usable Message-ID/);
  });
});
