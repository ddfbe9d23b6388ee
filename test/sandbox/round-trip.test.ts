/**
 * What is stored is what was sent: a message created from its properties (SaveOnly and SendAndSaveCopy) reads
 * back with GetItem as it was created, and its MIME carries the properties as Exchange writes them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { attr, child, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const ALICE = 'alice@contoso.test';

const LONG_SUBJECT = `Quarterly  review:  ${'numbers and plans, '.repeat(14)}ünïcode  and  double  spaces ${'x'.repeat(40)}`;
const BODY = 'Hello Alice,\n\nThe figures are attached.  Two spaces stay.\nRegards';

/** A message with every property a client may set on a new message, in the schema's order. */
function fullMessage(subject = 'Round trip', extra = ''): string {
  return (
    '<t:Message>' +
    `<t:Subject>${subject}</t:Subject>` +
    '<t:Sensitivity>Confidential</t:Sensitivity>' +
    `<t:Body BodyType="Text">${BODY}</t:Body>` +
    '<t:Categories><t:String>CRM</t:String><t:String>Follow up</t:String></t:Categories>' +
    '<t:Importance>High</t:Importance>' +
    '<t:InReplyTo>&lt;original.1@fabrikam.test&gt;</t:InReplyTo>' +
    '<t:ReminderDueBy>2030-05-01T09:30:00Z</t:ReminderDueBy>' +
    '<t:ReminderIsSet>true</t:ReminderIsSet>' +
    '<t:ReminderMinutesBeforeStart>30</t:ReminderMinutesBeforeStart>' +
    '<t:Culture>de-DE</t:Culture>' +
    '<t:Flag><t:FlagStatus>Flagged</t:FlagStatus><t:StartDate>2030-04-30T00:00:00Z</t:StartDate><t:DueDate>2030-05-02T00:00:00Z</t:DueDate></t:Flag>' +
    `<t:ToRecipients><t:Mailbox><t:Name>Alice Adams</t:Name><t:EmailAddress>${ALICE}</t:EmailAddress></t:Mailbox></t:ToRecipients>` +
    '<t:CcRecipients><t:Mailbox><t:EmailAddress>partner@fabrikam.test</t:EmailAddress></t:Mailbox></t:CcRecipients>' +
    '<t:IsReadReceiptRequested>true</t:IsReadReceiptRequested>' +
    '<t:IsDeliveryReceiptRequested>1</t:IsDeliveryReceiptRequested>' +
    extra +
    '<t:IsRead>false</t:IsRead>' +
    '<t:IsResponseRequested>true</t:IsResponseRequested>' +
    '<t:References>&lt;original.0@fabrikam.test&gt;  &lt;original.1@fabrikam.test&gt;</t:References>' +
    '<t:ReplyTo><t:Mailbox><t:Name>Sales</t:Name><t:EmailAddress>sales@contoso.test</t:EmailAddress></t:Mailbox></t:ReplyTo>' +
    '</t:Message>'
  );
}

const SHAPE =
  '<m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:BodyType>Text</t:BodyType>' +
  '<t:AdditionalProperties><t:FieldURI FieldURI="item:Flag"/><t:FieldURI FieldURI="message:ReplyTo"/></t:AdditionalProperties></m:ItemShape>';

function text(message: XmlElement, local: string): string | undefined {
  return find(message, local)[0]?.text;
}

function addresses(message: XmlElement, local: string): string[] {
  const container = find(message, local)[0];
  return container ? find(container, 'EmailAddress').map((e) => e.text) : [];
}

describe('sandbox EWS: a message reads back as it was created', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function getItem(id: string, as = BOB): Promise<XmlElement> {
    const answer = ok(await s.ews(`<m:GetItem>${SHAPE}<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as }));
    return find(answer, 'Message')[0]!;
  }

  function assertProperties(message: XmlElement, isRead: string, subject = 'Round trip') {
    assert.equal(text(message, 'Subject'), subject);
    assert.equal(text(message, 'Sensitivity'), 'Confidential');
    assert.equal(text(message, 'Body'), BODY, 'the body exactly as sent, no trailing newline');
    assert.equal(attr(find(message, 'Body')[0], 'BodyType'), 'Text');
    assert.deepEqual(find(find(message, 'Categories')[0]!, 'String').map((e) => e.text), ['CRM', 'Follow up']);
    assert.equal(text(message, 'Importance'), 'High');
    assert.equal(text(message, 'InReplyTo'), '<original.1@fabrikam.test>');
    assert.equal(text(message, 'ReminderDueBy'), '2030-05-01T09:30:00Z');
    assert.equal(text(message, 'ReminderIsSet'), 'true');
    assert.equal(text(message, 'ReminderMinutesBeforeStart'), '30');
    assert.equal(text(message, 'Culture'), 'de-DE');
    const flag = find(message, 'Flag')[0]!;
    assert.deepEqual([text(flag, 'FlagStatus'), text(flag, 'StartDate'), text(flag, 'DueDate')], ['Flagged', '2030-04-30T00:00:00Z', '2030-05-02T00:00:00Z']);
    assert.deepEqual(addresses(message, 'ToRecipients'), [ALICE]);
    assert.deepEqual(addresses(message, 'CcRecipients'), ['partner@fabrikam.test']);
    assert.equal(text(message, 'IsReadReceiptRequested'), 'true');
    assert.equal(text(message, 'IsDeliveryReceiptRequested'), 'true', 'xs:boolean 1 is true');
    assert.equal(text(message, 'IsRead'), isRead);
    assert.equal(text(message, 'IsResponseRequested'), 'true');
    assert.equal(text(message, 'References'), '<original.0@fabrikam.test>  <original.1@fabrikam.test>', 'References as sent');
    assert.deepEqual(addresses(message, 'ReplyTo'), ['sales@contoso.test']);
  }

  /** The MIME headers Exchange writes for these properties (MS-OXCMAIL: Importance, Sensitivity, receipts, Reply-To, Content-Language). */
  async function assertMime(message: XmlElement, subject = 'Round trip') {
    const mime = Buffer.from(text(message, 'MimeContent')!, 'base64');
    const parsed = await simpleParser(mime);
    assert.equal(parsed.subject, subject);
    const header = (name: string) => parsed.headerLines.find((h) => h.key === name)?.line.replace(/\r?\n[ \t]/g, ' ');
    assert.equal(header('importance'), 'Importance: high');
    assert.equal(header('x-priority'), 'X-Priority: 1');
    assert.equal(header('sensitivity'), 'Sensitivity: Company-Confidential');
    assert.match(header('disposition-notification-to') ?? '', /^Disposition-Notification-To: .*<bob@contoso\.test>$/);
    assert.match(header('return-receipt-to') ?? '', /^Return-Receipt-To: .*<bob@contoso\.test>$/);
    assert.deepEqual(parsed.replyTo?.value.map((a) => a.address), ['sales@contoso.test']);
    assert.equal(parsed.headers.get('content-language'), 'de-DE');
    assert.equal(parsed.inReplyTo, '<original.1@fabrikam.test>');
    assert.deepEqual(parsed.references, ['<original.0@fabrikam.test>', '<original.1@fabrikam.test>']);
  }

  test('SaveOnly: every property reads back as sent, and the MIME carries them', async () => {
    const created = ok(await s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items>${fullMessage()}</m:Items></m:CreateItem>`, { as: BOB }));
    const message = await getItem(ids(created)[0]!);
    assertProperties(message, 'false');
    assert.equal(text(message, 'IsDraft'), 'true');
    await assertMime(message);
  });

  test('SendAndSaveCopy: the sent copy keeps them, the recipient gets what the MIME carries', async () => {
    const subject = 'Sent round trip';
    ok(
      await s.ews(
        `<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items>${fullMessage(subject)}</m:Items></m:CreateItem>`,
        { as: BOB },
      ),
    );
    const sent = await findBySubject(BOB, 'sentitems', subject);
    const copy = await getItem(sent, BOB);
    // The sent copy is read whatever IsRead said (Exchange marks what the mailbox sent as read).
    assertProperties(copy, 'true', subject);
    assert.equal(text(copy, 'IsDraft'), 'false');
    await assertMime(copy, subject);

    const received = await getItem(await findBySubject(ALICE, 'inbox', subject), ALICE);
    assert.equal(text(received, 'Sensitivity'), 'Confidential');
    assert.equal(text(received, 'Importance'), 'High');
    assert.equal(text(received, 'IsReadReceiptRequested'), 'true');
    assert.equal(text(received, 'IsDeliveryReceiptRequested'), 'true');
    assert.equal(text(received, 'Culture'), 'de-DE');
    assert.deepEqual(addresses(received, 'ReplyTo'), ['sales@contoso.test']);
    assert.equal(text(received, 'InReplyTo'), '<original.1@fabrikam.test>');
    assert.equal(text(received, 'IsRead'), 'false');
    // Categories, flags and reminders are the sender's: they do not travel.
    assert.equal(find(received, 'Categories').length, 0);
    assert.equal(text(find(received, 'Flag')[0]!, 'FlagStatus'), 'NotFlagged');
  });

  async function findBySubject(as: string, folder: string, subject: string): Promise<string> {
    const answer = ok(
      await s.ews(
        `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="${folder}"/></m:ParentFolderIds></m:FindItem>`,
        { as },
      ),
    );
    const message = find(answer, 'Message').find((m) => text(m, 'Subject') === subject);
    assert.ok(message, `${subject} in ${as}'s ${folder}`);
    return attr(child(message, T, 'ItemId'), 'Id')!;
  }

  test('InternetMessageId is kept as given', async () => {
    const created = ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>With an id</t:Subject>' +
          '<t:InternetMessageId>&lt;crm.4711@contoso.test&gt;</t:InternetMessageId></t:Message></m:Items></m:CreateItem>',
        { as: BOB },
      ),
    );
    const message = await getItem(ids(created)[0]!);
    assert.equal(text(message, 'InternetMessageId'), '<crm.4711@contoso.test>');
    const parsed = await simpleParser(Buffer.from(text(message, 'MimeContent')!, 'base64'));
    assert.equal(parsed.messageId, '<crm.4711@contoso.test>');
  });

  test('a subject is kept to its first 255 characters (EWS reference, Subject: "limited to 255 characters"); spaces survive the MIME folding', async () => {
    assert.ok([...LONG_SUBJECT].length > 255);
    const expected = [...LONG_SUBJECT].slice(0, 255).join('');
    const created = ok(
      await s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>${LONG_SUBJECT}</t:Subject></t:Message></m:Items></m:CreateItem>`, { as: BOB }),
    );
    const message = await getItem(ids(created)[0]!);
    assert.equal(text(message, 'Subject'), expected);
    const parsed = await simpleParser(Buffer.from(text(message, 'MimeContent')!, 'base64'));
    assert.equal(parsed.subject, expected, 'the MIME subject unfolds to the same text, double spaces included');
  });

  test('a subject whose runs of spaces fall on a fold reaches the recipient unchanged (RFC 5322 unfolding keeps them)', async () => {
    // The composer folds this one between "ccc" and the five spaces before "a".
    const subject = 'ccc  a bb bb ccc dddddddddd xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx ccc     a    ccc      dddddddddd dddddddddd';
    ok(
      await s.ews(
        `<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>${subject}</t:Subject>` +
          `<t:ToRecipients><t:Mailbox><t:EmailAddress>${ALICE}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>`,
        { as: BOB },
      ),
    );
    const received = await getItem(await findBySubject(ALICE, 'inbox', subject), ALICE);
    assert.equal(text(received, 'Subject'), subject);
    assert.equal(text(received, 'ConversationTopic'), subject);
  });

  test('an HTML body reads back as sent; a message without these properties has the defaults', async () => {
    const html = '<html><body><p>Hello <b>there</b></p></body></html>';
    const created = ok(
      await s.ews(
        `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Html</t:Subject><t:Body BodyType="HTML">${html.replace(/</g, '&lt;').replace(/>/g, '&gt;')}</t:Body></t:Message></m:Items></m:CreateItem>`,
        { as: BOB },
      ),
    );
    const answer = ok(
      await s.ews(
        `<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Flag"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="${ids(created)[0]}"/></m:ItemIds></m:GetItem>`,
        { as: BOB },
      ),
    );
    const message = find(answer, 'Message')[0]!;
    assert.equal(text(message, 'Body'), html);
    assert.equal(attr(find(message, 'Body')[0], 'BodyType'), 'HTML');
    assert.equal(text(message, 'Sensitivity'), 'Normal');
    assert.equal(text(message, 'Importance'), 'Normal');
    assert.equal(text(message, 'ReminderIsSet'), 'false');
    assert.equal(find(message, 'ReminderDueBy').length, 0);
    assert.equal(text(message, 'IsReadReceiptRequested'), 'false');
    assert.equal(text(message, 'Culture'), 'en-US');
    assert.equal(text(find(message, 'Flag')[0]!, 'FlagStatus'), 'NotFlagged');
    assert.equal(text(message, 'IsRead'), 'true', 'a new draft is read');
    assert.ok(child(message, T, 'ItemId'));
    assert.equal(M.length > 0, true);
  });

  testTraffic(() => s.records, 10);
});
