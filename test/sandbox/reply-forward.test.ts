/**
 * Reply, reply-all and forward through CreateItem's response objects (how-to-respond-to-email-messages-by-using-
 * ews-in-exchange.md): Exchange builds the message from the one referenced, with its recipients, subject prefix,
 * threading headers and conversation. The engine's correlation relies on In-Reply-To, References and the
 * conversation being exactly right, so those are checked exactly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child, children, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const CAROL = 'carol@contoso.test';
const THREAD_INDEX = Buffer.concat([Buffer.from([1, 0x01, 0xd9, 0x4a, 0x3b, 0x2c]), Buffer.alloc(16, 0xab)]).toString('base64');

const FIELDS = [
  'item:ItemId',
  'item:Subject',
  'item:Body',
  'item:InReplyTo',
  'item:ConversationId',
  'item:IsDraft',
  'item:Attachments',
  'message:References',
  'message:ConversationIndex',
  'message:ToRecipients',
  'message:CcRecipients',
  'message:From',
  'message:IsRead',
  'message:InternetMessageId',
];

function original(options: { subject?: string; messageId: string; replyTo?: string; extraHeaders?: string[]; attachment?: boolean }): string {
  const head = [
    'From: Jane Doe <jane.doe@fabrikam.test>',
    `To: Alice Adams <${ALICE}>, Raj Patel <raj.patel@adatum.test>`,
    `Cc: Bob Brown <${BOB}>`,
    ...(options.replyTo ? [`Reply-To: ${options.replyTo}`] : []),
    `Subject: ${options.subject ?? 'Quote for 40 chairs'}`,
    'Date: Tue, 01 Dec 2026 09:00:00 +0000',
    `Message-ID: ${options.messageId}`,
    'References: <root@fabrikam.test>',
    'In-Reply-To: <root@fabrikam.test>',
    'Thread-Topic: Quote for 40 chairs',
    `Thread-Index: ${THREAD_INDEX}`,
    ...(options.extraHeaders ?? []),
    'MIME-Version: 1.0',
  ];
  if (!options.attachment) return [...head, 'Content-Type: text/plain; charset=utf-8', '', 'Can you send the quote?', ''].join('\r\n');
  return [
    ...head,
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The plan is attached.',
    '--b1',
    'Content-Type: application/pdf; name="plan.pdf"',
    'Content-Disposition: attachment; filename="plan.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 floor plan').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
}

describe('sandbox EWS: reply and forward', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function deliver(to: string, mime: string): Promise<string> {
    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${to}/messages`, { mime });
    assert.equal(delivered.status, 201);
    return delivered.json.itemId;
  }

  async function getItem(as: string, id: string): Promise<XmlElement> {
    const paths = FIELDS.map((f) => `<t:FieldURI FieldURI="${f}"/>`).join('');
    const answer = await s.ews(
      `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:BodyType>Text</t:BodyType><t:AdditionalProperties>${paths}</t:AdditionalProperties></m:ItemShape>` +
        `<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`,
      { as },
    );
    return child(child(ok(answer), M, 'Items'), T, 'Message')!;
  }

  async function newest(as: string, folder: string): Promise<string> {
    const answer = await s.ews(
      `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>` +
        `<m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeCreated"/></t:FieldOrder></m:SortOrder>` +
        `<m:ParentFolderIds><t:DistinguishedFolderId Id="${folder}"/></m:ParentFolderIds></m:FindItem>`,
      { as },
    );
    return ids(ok(answer))[0]!;
  }

  const text = (e: XmlElement, local: string) => child(e, T, local)?.text ?? null;
  const addresses = (e: XmlElement, local: string) => {
    const list = child(e, T, local);
    return list ? find(list, 'EmailAddress').map((a) => a.text) : [];
  };

  function respond(kind: string, disposition: string, id: string, inner = '', as = ALICE) {
    return s.ews(
      `<m:CreateItem MessageDisposition="${disposition}"><m:Items><t:${kind}>${inner}<t:ReferenceItemId Id="${id}"/>` +
        `<t:NewBodyContent BodyType="Text">Here it is.</t:NewBodyContent></t:${kind}></m:Items></m:CreateItem>`,
      { as },
    );
  }

  test('a reply goes to the sender with RE:, In-Reply-To the original, References extended, and the same conversation', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q1@fabrikam.test>' }));
    const before = await getItem(ALICE, id);
    const outboundBefore = (await s.control<unknown[]>('GET', '/outbound')).json.length;

    const answer = await respond('ReplyToItem', 'SendAndSaveCopy', id);
    const message = ok(answer);
    assert.equal(children(child(message, M, 'Items'), T).length, 0, 'a sent reply returns no item');

    const sent = await getItem(ALICE, await newest(ALICE, 'sentitems'));
    assert.equal(text(sent, 'Subject'), 'RE: Quote for 40 chairs');
    assert.equal(text(sent, 'InReplyTo'), '<q1@fabrikam.test>');
    assert.equal(text(sent, 'References'), '<root@fabrikam.test> <q1@fabrikam.test>');
    assert.deepEqual(addresses(sent, 'ToRecipients'), ['jane.doe@fabrikam.test']);
    assert.equal(child(sent, T, 'CcRecipients'), undefined, 'a reply has no Cc');
    assert.deepEqual(addresses(sent, 'From'), [ALICE]);
    assert.equal(attr(child(sent, T, 'ConversationId'), 'Id'), attr(child(before, T, 'ConversationId'), 'Id'));
    const index = Buffer.from(text(sent, 'ConversationIndex')!, 'base64');
    assert.equal(index.length, 27, 'the original 22 bytes and a 5-byte child block ([MS-OXOMSG] 2.2.1.3)');
    assert.deepEqual(index.subarray(0, 22), Buffer.from(THREAD_INDEX, 'base64'));
    const body = text(sent, 'Body')!;
    assert.ok(body.startsWith('Here it is.'), body);
    assert.match(body, /From: Jane Doe <jane\.doe@fabrikam\.test>/);
    assert.match(body, /Can you send the quote\?/);
    assert.notEqual(text(sent, 'InternetMessageId'), '<q1@fabrikam.test>');

    const outbound = (await s.control<Array<{ recipients: string[]; subject: string }>>('GET', '/outbound')).json;
    assert.equal(outbound.length, outboundBefore + 1);
    assert.deepEqual(outbound.at(-1)!.recipients, ['jane.doe@fabrikam.test']);
  });

  test('a reply goes to Reply-To when the original has one', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q2@fabrikam.test>', replyTo: 'Sales Desk <desk@fabrikam.test>' }));
    ok(await respond('ReplyToItem', 'SendAndSaveCopy', id));
    const sent = await getItem(ALICE, await newest(ALICE, 'sentitems'));
    assert.deepEqual(addresses(sent, 'ToRecipients'), ['desk@fabrikam.test']);
  });

  test('reply-all goes to the sender and every recipient but the replying mailbox, Cc kept as Cc', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q3@fabrikam.test>' }));
    ok(await respond('ReplyAllToItem', 'SendAndSaveCopy', id));
    const sent = await getItem(ALICE, await newest(ALICE, 'sentitems'));
    assert.deepEqual(addresses(sent, 'ToRecipients'), ['jane.doe@fabrikam.test', 'raj.patel@adatum.test']);
    assert.deepEqual(addresses(sent, 'CcRecipients'), [BOB]);

    // Bob is a sandbox mailbox: the reply arrives in his Inbox with the same threading.
    const received = await getItem(BOB, await newest(BOB, 'inbox'));
    assert.equal(text(received, 'Subject'), 'RE: Quote for 40 chairs');
    assert.equal(text(received, 'InReplyTo'), '<q3@fabrikam.test>');
    assert.equal(text(received, 'References'), '<root@fabrikam.test> <q3@fabrikam.test>');
    assert.equal(text(received, 'InternetMessageId'), text(sent, 'InternetMessageId'));
    assert.equal(text(received, 'ConversationIndex'), text(sent, 'ConversationIndex'));
  });

  test('the prefix is not doubled: a reply to "RE: x" is "RE: x"; a forward is "FW: x"', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q4@fabrikam.test>', subject: 'RE: Quote for 40 chairs' }));
    ok(await respond('ReplyToItem', 'SendAndSaveCopy', id));
    assert.equal(text(await getItem(ALICE, await newest(ALICE, 'sentitems')), 'Subject'), 'RE: Quote for 40 chairs');
    ok(await respond('ForwardItem', 'SendAndSaveCopy', id, `<t:ToRecipients><t:Mailbox><t:EmailAddress>${CAROL}</t:EmailAddress></t:Mailbox></t:ToRecipients>`));
    assert.equal(text(await getItem(ALICE, await newest(ALICE, 'sentitems')), 'Subject'), 'FW: Quote for 40 chairs');
  });

  test('a forward goes to the recipients given and carries the original attachments', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q5@fabrikam.test>', attachment: true }));
    ok(await respond('ForwardItem', 'SendOnly', id, `<t:ToRecipients><t:Mailbox><t:EmailAddress>${CAROL}</t:EmailAddress></t:Mailbox></t:ToRecipients>`));
    const forwarded = await getItem(CAROL, await newest(CAROL, 'inbox'));
    assert.equal(text(forwarded, 'Subject'), 'FW: Quote for 40 chairs');
    assert.deepEqual(addresses(forwarded, 'ToRecipients'), [CAROL]);
    assert.equal(text(forwarded, 'References'), '<root@fabrikam.test> <q5@fabrikam.test>');
    const attachment = child(child(forwarded, T, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(text(attachment, 'Name'), 'plan.pdf');
    const content = ok(
      await s.ews(`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="${attr(child(attachment, T, 'AttachmentId'), 'Id')}"/></m:AttachmentIds></m:GetAttachment>`, { as: CAROL }),
    );
    assert.equal(Buffer.from(find(content, 'Content')[0]!.text, 'base64').toString(), '%PDF-1.4 floor plan');
  });

  test('a reply saved as a draft (SaveOnly) returns its id, and SendItem sends it with its threading', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q6@fabrikam.test>' }));
    const saved = ok(await respond('ReplyAllToItem', 'SaveOnly', id));
    const draftId = ids(saved)[0]!;
    const draft = await getItem(ALICE, draftId);
    assert.equal(text(draft, 'IsDraft'), 'true');
    assert.equal(text(draft, 'InReplyTo'), '<q6@fabrikam.test>');

    ok(await s.ews(`<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="${draftId}"/></m:ItemIds></m:SendItem>`, { as: ALICE }));
    const received = await getItem(BOB, await newest(BOB, 'inbox'));
    assert.equal(text(received, 'InReplyTo'), '<q6@fabrikam.test>');
    assert.equal(text(received, 'References'), '<root@fabrikam.test> <q6@fabrikam.test>');
  });

  test('an HTML original: the reply is HTML, the new text above the quoted original', async () => {
    const mime = [
      'From: Jane Doe <jane.doe@fabrikam.test>',
      `To: ${ALICE}`,
      'Subject: Layout',
      'Message-ID: <h1@fabrikam.test>',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><head><style>p{}</style></head><body><p>See the <b>layout</b> &amp; plan.</p></body></html>',
      '',
    ].join('\r\n');
    const id = await deliver(ALICE, mime);
    ok(
      await s.ews(
        `<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:ReplyToItem><t:ReferenceItemId Id="${id}"/>` +
          `<t:NewBodyContent BodyType="HTML">&lt;p&gt;Looks good&lt;/p&gt;</t:NewBodyContent></t:ReplyToItem></m:Items></m:CreateItem>`,
        { as: ALICE },
      ),
    );
    const answer = await s.ews(
      `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape>` +
        `<m:ItemIds><t:ItemId Id="${await newest(ALICE, 'sentitems')}"/></m:ItemIds></m:GetItem>`,
      { as: ALICE },
    );
    const body = find(ok(answer), 'Body')[0]!;
    assert.equal(attr(body, 'BodyType'), 'HTML');
    const html = body.text;
    assert.ok(html.indexOf('<p>Looks good</p>') < html.indexOf('<p>See the <b>layout</b> &amp; plan.</p>'), html);
    assert.match(html, /<b>From:<\/b> Jane Doe &lt;jane\.doe@fabrikam\.test&gt;/);
    assert.doesNotMatch(html, /<style>/, 'the quoted original brings its body, not its head');
  });

  test('errors: an unknown or malformed reference, a reply to a draft (responsecode.md, ErrorInvalidReferenceItem)', async () => {
    const id = await deliver(ALICE, original({ messageId: '<q7@fabrikam.test>' }));
    ok(await s.ews(`<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:DeleteItem>`, { as: ALICE }));
    const gone = responseMessages((await respond('ReplyToItem', 'SendAndSaveCopy', id)).doc())[0]!;
    assert.equal(responseCode(gone), 'ErrorItemNotFound');
    const malformed = responseMessages((await respond('ReplyToItem', 'SendAndSaveCopy', 'AAMk=')).doc())[0]!;
    assert.equal(responseCode(malformed), 'ErrorInvalidIdMalformed');

    const draft = ids(
      ok(
        await s.ews(
          `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Draft</t:Subject>` +
            `<t:ToRecipients><t:Mailbox><t:EmailAddress>${BOB}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>`,
          { as: ALICE },
        ),
      ),
    )[0]!;
    const toDraft = responseMessages((await respond('ReplyToItem', 'SaveOnly', draft)).doc())[0]!;
    assert.equal(responseClass(toDraft), 'Error');
    assert.equal(responseCode(toDraft), 'ErrorInvalidReferenceItem');
    // A draft can be forwarded.
    ok(await respond('ForwardItem', 'SaveOnly', draft));
  });

  test('the conversation: the index GUID ([MS-OXOMSG] 2.2.1.2), kept by a reply with its own Subject; without Thread-Index, the topic', async () => {
    const id = await deliver(ALICE, original({ messageId: '<c1@fabrikam.test>' }));
    ok(await respond('ReplyToItem', 'SendAndSaveCopy', id, '<t:Subject>Something else entirely</t:Subject>'));
    const reply = await getItem(ALICE, await newest(ALICE, 'sentitems'));
    assert.equal(text(reply, 'Subject'), 'Something else entirely');
    const conversation = Buffer.from(attr(child(reply, T, 'ConversationId'), 'Id')!, 'base64');
    assert.deepEqual(conversation.subarray(conversation.length - 16), Buffer.from(THREAD_INDEX, 'base64').subarray(6, 22), 'the GUID of the thread index');
    assert.equal(attr(child(reply, T, 'ConversationId'), 'Id'), attr(child(await getItem(ALICE, id), T, 'ConversationId'), 'Id'));

    // Two messages from outside without Thread-Index, one a reply by subject only: one conversation, by topic.
    const plain = (subject: string, messageId: string) =>
      [`From: jane.doe@fabrikam.test`, `To: ${ALICE}`, `Subject: ${subject}`, `Message-ID: ${messageId}`, 'Content-Type: text/plain', '', 'x', ''].join('\r\n');
    const first = await getItem(ALICE, await deliver(ALICE, plain('Delivery dates', '<t1@fabrikam.test>')));
    const second = await getItem(ALICE, await deliver(ALICE, plain('Re: Delivery dates', '<t2@fabrikam.test>')));
    const other = await getItem(ALICE, await deliver(ALICE, plain('Invoice 7', '<t3@fabrikam.test>')));
    assert.equal(attr(child(first, T, 'ConversationId'), 'Id'), attr(child(second, T, 'ConversationId'), 'Id'));
    assert.notEqual(attr(child(first, T, 'ConversationId'), 'Id'), attr(child(other, T, 'ConversationId'), 'Id'));
    // And a reply built by the server to one of them stays there.
    ok(await respond('ReplyToItem', 'SendAndSaveCopy', ids(first)[0]!));
    const built = await getItem(ALICE, await newest(ALICE, 'sentitems'));
    assert.equal(attr(child(built, T, 'ConversationId'), 'Id'), attr(child(first, T, 'ConversationId'), 'Id'));
  });

  test('SuppressReadReceipt marks a message read when a receipt was asked for, else ErrorReadReceiptNotPending', async () => {
    const asked = await deliver(ALICE, original({ messageId: '<q8@fabrikam.test>', extraHeaders: ['Disposition-Notification-To: jane.doe@fabrikam.test'] }));
    const suppress = (id: string) =>
      s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:SuppressReadReceipt><t:ReferenceItemId Id="${id}"/></t:SuppressReadReceipt></m:Items></m:CreateItem>`, { as: ALICE });
    ok(await suppress(asked));
    assert.equal(text(await getItem(ALICE, asked), 'IsRead'), 'true');
    const notAsked = await deliver(ALICE, original({ messageId: '<q9@fabrikam.test>' }));
    assert.equal(responseCode(responseMessages((await suppress(notAsked)).doc())[0]!), 'ErrorReadReceiptNotPending');
    assert.equal(text(await getItem(ALICE, notAsked), 'IsRead'), 'false');
  });

  testTraffic(() => s.records, 20);
});
