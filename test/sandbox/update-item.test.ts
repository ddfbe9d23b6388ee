/**
 * UpdateItem on messages: SetItemField, AppendToItemField and DeleteItemField on the properties Exchange lets a
 * client change, Exchange's errors for the others ("EWS property-related errors" and ResponseCode in the EWS
 * reference; which properties are fixed once sent or required: python exchangelib's field definitions), and a
 * new change key for every change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { attr, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const ALICE = 'alice@contoso.test';

function text(message: XmlElement, local: string): string | undefined {
  return find(message, local)[0]?.text;
}

function addresses(message: XmlElement, local: string): string[] {
  const container = find(message, local)[0];
  return container ? find(container, 'EmailAddress').map((e) => e.text) : [];
}

const mailbox = (address: string) => `<t:Mailbox><t:EmailAddress>${address}</t:EmailAddress></t:Mailbox>`;
const set = (uri: string, value: string) => `<t:SetItemField><t:FieldURI FieldURI="${uri}"/><t:Message>${value}</t:Message></t:SetItemField>`;
const append = (uri: string, value: string) => `<t:AppendToItemField><t:FieldURI FieldURI="${uri}"/><t:Message>${value}</t:Message></t:AppendToItemField>`;
const remove = (uri: string) => `<t:DeleteItemField><t:FieldURI FieldURI="${uri}"/></t:DeleteItemField>`;

describe('sandbox EWS: UpdateItem on message properties', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function draft(extra = ''): Promise<{ id: string; changeKey: string }> {
    const created = ok(
      await s.ews(
        `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Draft</t:Subject><t:Body BodyType="Text">First line.</t:Body>${extra}` +
          `<t:ToRecipients>${mailbox(ALICE)}</t:ToRecipients></t:Message></m:Items></m:CreateItem>`,
        { as: BOB },
      ),
    );
    const item = find(created, 'ItemId')[0]!;
    return { id: attr(item, 'Id')!, changeKey: attr(item, 'ChangeKey')! };
  }

  function update(id: string, updates: string, as = BOB) {
    return s.ews(
      `<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}"/><t:Updates>${updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`,
      { as },
    );
  }

  async function refusal(id: string, updates: string, as = BOB): Promise<[string, string | undefined]> {
    const message = responseMessages((await update(id, updates, as)).doc())[0]!;
    const path = find(message, 'FieldURI')[0] ?? find(message, 'ExtendedFieldURI')[0];
    return [responseCode(message), attr(path, 'FieldURI') ?? attr(path, 'PropertyName')];
  }

  async function get(id: string, as = BOB): Promise<XmlElement> {
    const answer = ok(
      await s.ews(
        '<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>' +
          '<t:AdditionalProperties><t:FieldURI FieldURI="item:Flag"/><t:FieldURI FieldURI="message:ReplyTo"/></t:AdditionalProperties></m:ItemShape>' +
          `<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`,
        { as },
      ),
    );
    return find(answer, 'Message')[0]!;
  }

  test('on a draft: each settable property is set, and each change gives a new change key', async () => {
    const { id, changeKey } = await draft();
    const keys = new Set([changeKey]);
    const changes: Array<[string, string]> = [
      ['item:Subject', '<t:Subject>Changed subject</t:Subject>'],
      ['item:Sensitivity', '<t:Sensitivity>Private</t:Sensitivity>'],
      ['item:Body', '<t:Body BodyType="HTML">&lt;p&gt;New body&lt;/p&gt;</t:Body>'],
      ['item:Categories', '<t:Categories><t:String>CRM</t:String></t:Categories>'],
      ['item:Importance', '<t:Importance>Low</t:Importance>'],
      ['item:InReplyTo', '<t:InReplyTo>&lt;a@fabrikam.test&gt;</t:InReplyTo>'],
      ['item:ReminderDueBy', '<t:ReminderDueBy>2031-01-02T03:04:05Z</t:ReminderDueBy>'],
      ['item:ReminderIsSet', '<t:ReminderIsSet>1</t:ReminderIsSet>'],
      ['item:ReminderMinutesBeforeStart', '<t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart>'],
      ['item:Culture', '<t:Culture>fr-FR</t:Culture>'],
      ['item:Flag', '<t:Flag><t:FlagStatus>Complete</t:FlagStatus><t:CompleteDate>2031-01-03T00:00:00Z</t:CompleteDate></t:Flag>'],
      ['message:ToRecipients', `<t:ToRecipients>${mailbox('carol@contoso.test')}</t:ToRecipients>`],
      ['message:CcRecipients', `<t:CcRecipients>${mailbox(ALICE)}</t:CcRecipients>`],
      ['message:BccRecipients', `<t:BccRecipients>${mailbox('hidden@fabrikam.test')}</t:BccRecipients>`],
      ['message:IsReadReceiptRequested', '<t:IsReadReceiptRequested>true</t:IsReadReceiptRequested>'],
      ['message:IsDeliveryReceiptRequested', '<t:IsDeliveryReceiptRequested>true</t:IsDeliveryReceiptRequested>'],
      ['message:IsRead', '<t:IsRead>0</t:IsRead>'],
      ['message:IsResponseRequested', '<t:IsResponseRequested>true</t:IsResponseRequested>'],
      ['message:References', '<t:References>&lt;a@fabrikam.test&gt;</t:References>'],
      ['message:ReplyTo', `<t:ReplyTo>${mailbox('sales@contoso.test')}</t:ReplyTo>`],
    ];
    for (const [uri, value] of changes) {
      const answer = ok(await update(id, set(uri, value)));
      const key = attr(find(answer, 'ItemId')[0], 'ChangeKey')!;
      assert.ok(!keys.has(key), `${uri}: a new change key`);
      keys.add(key);
    }
    const message = await get(id);
    assert.equal(text(message, 'Subject'), 'Changed subject');
    assert.equal(text(message, 'Sensitivity'), 'Private');
    assert.equal(text(message, 'Body'), '<p>New body</p>');
    assert.equal(attr(find(message, 'Body')[0], 'BodyType'), 'HTML');
    assert.deepEqual(find(find(message, 'Categories')[0]!, 'String').map((e) => e.text), ['CRM']);
    assert.equal(text(message, 'Importance'), 'Low');
    assert.equal(text(message, 'InReplyTo'), '<a@fabrikam.test>');
    assert.equal(text(message, 'ReminderDueBy'), '2031-01-02T03:04:05Z');
    assert.equal(text(message, 'ReminderIsSet'), 'true');
    assert.equal(text(message, 'ReminderMinutesBeforeStart'), '15');
    assert.equal(text(message, 'Culture'), 'fr-FR');
    assert.deepEqual([text(message, 'FlagStatus'), text(message, 'CompleteDate')], ['Complete', '2031-01-03T00:00:00Z']);
    assert.deepEqual(addresses(message, 'ToRecipients'), ['carol@contoso.test']);
    assert.deepEqual(addresses(message, 'CcRecipients'), [ALICE]);
    assert.deepEqual(addresses(message, 'BccRecipients'), ['hidden@fabrikam.test']);
    assert.equal(text(message, 'IsReadReceiptRequested'), 'true');
    assert.equal(text(message, 'IsDeliveryReceiptRequested'), 'true');
    assert.equal(text(message, 'IsRead'), 'false');
    assert.equal(text(message, 'IsResponseRequested'), 'true');
    assert.equal(text(message, 'References'), '<a@fabrikam.test>');
    assert.deepEqual(addresses(message, 'ReplyTo'), ['sales@contoso.test']);

    // The draft's MIME follows its properties, so what SendItem sends is what the draft now says.
    const parsed = await simpleParser(Buffer.from(text(message, 'MimeContent')!, 'base64'));
    assert.equal(parsed.subject, 'Changed subject');
    assert.deepEqual(
      [parsed.to, parsed.cc].map((list) => (Array.isArray(list) ? list : [list]).flatMap((a) => a?.value.map((v) => v.address) ?? [])),
      [['carol@contoso.test'], [ALICE]],
    );
    assert.equal(typeof parsed.html === 'string' ? parsed.html.trim() : parsed.html, '<p>New body</p>');
    assert.equal(parsed.headers.get('sensitivity'), 'Private');
    ok(await s.ews(`<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:SendItem>`, { as: BOB }));
    const inbox = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>',
        { as: 'carol@contoso.test' },
      ),
    );
    assert.ok(find(inbox, 'Subject').some((e) => e.text === 'Changed subject'), 'the changed recipient got the changed draft');
  });

  test('AppendToItemField: recipients, ReplyTo and the body append; other properties are ErrorInvalidPropertyAppend', async () => {
    const { id } = await draft();
    ok(await update(id, append('message:ToRecipients', `<t:ToRecipients>${mailbox('carol@contoso.test')}</t:ToRecipients>`)));
    ok(await update(id, append('message:ReplyTo', `<t:ReplyTo>${mailbox('sales@contoso.test')}</t:ReplyTo>`)));
    ok(await update(id, append('item:Body', '<t:Body BodyType="Text"> Second line.</t:Body>')));
    const message = await get(id);
    assert.deepEqual(addresses(message, 'ToRecipients'), [ALICE, 'carol@contoso.test']);
    assert.deepEqual(addresses(message, 'ReplyTo'), ['sales@contoso.test']);
    assert.equal(text(message, 'Body'), 'First line. Second line.');
    // ResponseCode: appending a body in another format than the stored one is refused too.
    assert.deepEqual(await refusal(id, append('item:Body', '<t:Body BodyType="HTML">&lt;b&gt;x&lt;/b&gt;</t:Body>')), ['ErrorInvalidPropertyAppend', 'item:Body']);
    assert.deepEqual(await refusal(id, append('item:Categories', '<t:Categories><t:String>x</t:String></t:Categories>')), ['ErrorInvalidPropertyAppend', 'item:Categories']);
    assert.deepEqual(await refusal(id, append('item:Subject', '<t:Subject>x</t:Subject>')), ['ErrorInvalidPropertyAppend', 'item:Subject']);
  });

  test('DeleteItemField clears what may be cleared; identity and required properties are ErrorInvalidPropertyDelete', async () => {
    const { id } = await draft('<t:Categories><t:String>CRM</t:String></t:Categories>');
    ok(await update(id, remove('item:Categories') + remove('message:ToRecipients') + remove('item:Body') + remove('item:Flag') + remove('message:From')));
    const message = await get(id);
    assert.equal(find(message, 'Categories').length, 0);
    assert.equal(find(message, 'ToRecipients').length, 0);
    assert.equal(text(message, 'Body'), '');
    assert.equal(text(message, 'FlagStatus'), 'NotFlagged');
    for (const uri of ['item:ItemId', 'item:DateTimeReceived', 'item:Importance', 'item:Sensitivity', 'message:IsRead', 'item:ReminderIsSet', 'item:Culture']) {
      assert.deepEqual(await refusal(id, remove(uri)), ['ErrorInvalidPropertyDelete', uri]);
    }
  });

  test('read-only properties are ErrorInvalidPropertySet; a change that carries another property is ErrorUpdatePropertyMismatch', async () => {
    const { id } = await draft();
    for (const [uri, value] of [
      ['item:DateTimeReceived', '<t:DateTimeReceived>2030-01-01T00:00:00Z</t:DateTimeReceived>'],
      ['item:Size', '<t:Size>5</t:Size>'],
      ['item:IsDraft', '<t:IsDraft>false</t:IsDraft>'],
      ['message:ConversationTopic', '<t:ConversationTopic>x</t:ConversationTopic>'],
      // InternetMessageId is set when the message is created, never after.
      ['message:InternetMessageId', '<t:InternetMessageId>&lt;x@y&gt;</t:InternetMessageId>'],
    ]) {
      assert.deepEqual(await refusal(id, set(uri!, value!)), ['ErrorInvalidPropertySet', uri]);
    }
    assert.deepEqual(await refusal(id, set('item:Subject', '<t:Importance>High</t:Importance>')), ['ErrorUpdatePropertyMismatch', 'item:Subject']);
    assert.deepEqual(await refusal(id, set('item:Subject', '<t:Subject>a</t:Subject><t:Importance>High</t:Importance>')), ['ErrorUpdatePropertyMismatch', 'item:Subject']);
    assert.deepEqual(await refusal(id, set('message:From', `<t:From>${mailbox(ALICE)}</t:From>`)), ['ErrorSendAsDenied', undefined]);
  });

  test('on a received message: read flag, categories, flag, importance change; recipients and receipt requests are ErrorInvalidPropertyUpdateSentMessage', async () => {
    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from: 'x@fabrikam.test', to: [ALICE], subject: 'Received' });
    assert.equal(delivered.status, 201);
    const id = delivered.json.itemId;
    ok(
      await update(
        id,
        set('item:Categories', '<t:Categories><t:String>Done</t:String></t:Categories>') +
          set('item:Importance', '<t:Importance>High</t:Importance>') +
          set('item:Flag', '<t:Flag><t:FlagStatus>Flagged</t:FlagStatus></t:Flag>') +
          set('message:IsRead', '<t:IsRead>true</t:IsRead>'),
        ALICE,
      ),
    );
    const message = await get(id, ALICE);
    assert.deepEqual([text(message, 'String'), text(message, 'Importance'), text(message, 'FlagStatus'), text(message, 'IsRead')], ['Done', 'High', 'Flagged', 'true']);
    for (const [uri, value] of [
      ['message:ToRecipients', `<t:ToRecipients>${mailbox('carol@contoso.test')}</t:ToRecipients>`],
      ['message:IsReadReceiptRequested', '<t:IsReadReceiptRequested>true</t:IsReadReceiptRequested>'],
      ['message:IsDeliveryReceiptRequested', '<t:IsDeliveryReceiptRequested>true</t:IsDeliveryReceiptRequested>'],
      ['message:ReplyTo', `<t:ReplyTo>${mailbox('sales@contoso.test')}</t:ReplyTo>`],
    ]) {
      assert.deepEqual(await refusal(id, set(uri!, value!), ALICE), ['ErrorInvalidPropertyUpdateSentMessage', uri]);
    }
    assert.deepEqual(await refusal(id, append('message:CcRecipients', `<t:CcRecipients>${mailbox(BOB)}</t:CcRecipients>`), ALICE), ['ErrorInvalidPropertyUpdateSentMessage', 'message:CcRecipients']);
    assert.ok(M);
    assert.ok(ids(message).length > 0);
  });

  test('a draft\'s MimeContent can be replaced (its properties follow); a received message\'s cannot', async () => {
    const { id } = await draft('<t:Categories><t:String>Kept</t:String></t:Categories>');
    const mime = [
      `From: Bob Brown <${BOB}>`,
      `To: Carol Clark <carol@contoso.test>`,
      'Subject: From new MIME',
      'Importance: high',
      'Message-ID: <replaced.1@contoso.test>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'New MIME body',
      '',
    ].join('\r\n');
    ok(await update(id, set('item:MimeContent', `<t:MimeContent CharacterSet="UTF-8">${Buffer.from(mime).toString('base64')}</t:MimeContent>`)));
    const message = await get(id);
    assert.equal(text(message, 'Subject'), 'From new MIME');
    assert.equal(text(message, 'Importance'), 'High');
    assert.deepEqual(addresses(message, 'ToRecipients'), ['carol@contoso.test']);
    assert.equal(text(message, 'String'), 'Kept', 'categories are not in the MIME: they stay');
    assert.equal(Buffer.from(text(message, 'MimeContent')!, 'base64').toString(), mime);

    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from: 'x@fabrikam.test', to: [ALICE], subject: 'Received mime' });
    assert.deepEqual(
      await refusal(delivered.json.itemId, set('item:MimeContent', `<t:MimeContent>${Buffer.from(mime).toString('base64')}</t:MimeContent>`), ALICE),
      ['ErrorInvalidPropertyUpdateSentMessage', 'item:MimeContent'],
    );
  });

  test('a subject set longer than 255 characters is kept to 255 (python exchangelib\'s suite, test_text_field_settings)', async () => {
    const { id } = await draft();
    ok(await update(id, set('item:Subject', `<t:Subject>${'s'.repeat(300)}</t:Subject>`)));
    assert.equal(text(await get(id), 'Subject'), 's'.repeat(255));
  });

  test('MessageDisposition SendAndSaveCopy sends the updated draft: no item in the answer, the copy in Sent Items', async () => {
    const { id } = await draft();
    const answer = ok(
      await s.ews(
        `<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SendAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}"/><t:Updates>` +
          set('item:Subject', '<t:Subject>Updated and sent</t:Subject>') +
          '</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>',
        { as: BOB },
      ),
    );
    assert.equal(find(answer, 'ItemId').length, 0);
    const gone = responseMessages((await s.ews(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: BOB })).doc())[0]!;
    assert.equal(responseCode(gone), 'ErrorItemNotFound');
    const sent = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="sentitems"/></m:ParentFolderIds></m:FindItem>',
        { as: BOB },
      ),
    );
    assert.ok(find(sent, 'Subject').some((e) => e.text === 'Updated and sent'));
    const received = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>',
        { as: ALICE },
      ),
    );
    assert.ok(find(received, 'Subject').some((e) => e.text === 'Updated and sent'));
  });

  testTraffic(() => s.records, 20);
});
