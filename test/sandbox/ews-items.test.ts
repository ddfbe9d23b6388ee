import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child } from '../../src/xml/parse.js';
import { faultCode, find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const CAROL = 'carol@contoso.test';
const idOnly = '<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>';

function syncItems(s: TestSandbox, as: string, folder: string, max: number, state?: string, host?: string) {
  return s.ews(
    `<m:SyncFolderItems>${idOnly}<m:SyncFolderId><t:DistinguishedFolderId Id="${folder}"/></m:SyncFolderId>` +
      `${state ? `<m:SyncState>${state}</m:SyncState>` : ''}<m:MaxChangesReturned>${max}</m:MaxChangesReturned></m:SyncFolderItems>`,
    { as, ...(host ? { host } : {}) },
  );
}

interface Page {
  state: string;
  last: boolean;
  changes: Array<{ kind: string; id: string }>;
}

function readPage(message: ReturnType<typeof ok>): Page {
  return {
    state: child(message, M, 'SyncState')!.text,
    last: child(message, M, 'IncludesLastItemInRange')!.text === 'true',
    changes: child(message, M, 'Changes')!.children.map((c) => ({ kind: c.local, id: ids(c)[0]! })),
  };
}

describe('sandbox EWS: items', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  test('SyncFolderItems pages through MaxChangesReturned and then reports only changes', async () => {
    for (let n = 1; n <= 6; n += 1) {
      const delivered = await s.control('POST', `/mailboxes/${CAROL}/messages`, { from: 'x@fabrikam.test', to: [CAROL], subject: `Message ${n}` });
      assert.equal(delivered.status, 201);
    }
    const pages: Page[] = [];
    let state: string | undefined;
    for (;;) {
      const page = readPage(ok(await syncItems(s, CAROL, 'inbox', 4, state)));
      pages.push(page);
      state = page.state;
      if (page.last) break;
    }
    assert.deepEqual(pages.map((p) => [p.changes.length, p.last]), [[4, false], [2, true]]);
    assert.ok(pages.flatMap((p) => p.changes).every((c) => c.kind === 'Create'));
    const created = pages.flatMap((p) => p.changes.map((c) => c.id));
    assert.equal(new Set(created).size, 6, 'every message exactly once');

    assert.deepEqual(readPage(ok(await syncItems(s, CAROL, 'inbox', 4, state))).changes, [], 'nothing new, nothing reported');

    // A read flag, a move out, a delete, a new message: one change each, of the right kind.
    const [first, second, third] = created;
    ok(
      await s.ews(
        `<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="${first}"/><t:Updates>` +
          `<t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField>` +
          `</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`,
        { as: CAROL },
      ),
    );
    const moved = ok(await s.ews(`<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="deleteditems"/></m:ToFolderId><m:ItemIds><t:ItemId Id="${second}"/></m:ItemIds></m:MoveItem>`, { as: CAROL }));
    assert.notEqual(ids(moved)[0], second, 'a moved item has a new id');
    ok(await s.ews(`<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="${third}"/></m:ItemIds></m:DeleteItem>`, { as: CAROL }));
    await s.control('POST', `/mailboxes/${CAROL}/messages`, { from: 'x@fabrikam.test', to: [CAROL], subject: 'Late arrival' });

    const next = readPage(ok(await syncItems(s, CAROL, 'inbox', 100, state)));
    assert.deepEqual(
      next.changes.map((c) => c.kind),
      ['ReadFlagChange', 'Delete', 'Delete', 'Create'],
    );
    assert.deepEqual(next.changes.slice(0, 3).map((c) => c.id), [first, second, third]);
    assert.equal(next.last, true);
  });

  test('SyncFolderItems skips the items named in Ignore', async () => {
    // Dave's mailbox is on the second server.
    const start = readPage(ok(await syncItems(s, 'dave@contoso.test', 'inbox', 100, undefined, 'mail2.contoso.test'))).state;
    const a = await s.control<{ itemId: string }>('POST', '/mailboxes/dave@contoso.test/messages', { from: 'x@fabrikam.test', to: ['dave@contoso.test'], subject: 'A' });
    const b = await s.control<{ itemId: string }>('POST', '/mailboxes/dave@contoso.test/messages', { from: 'x@fabrikam.test', to: ['dave@contoso.test'], subject: 'B' });
    const page = readPage(ok(await s.ews(
      `<m:SyncFolderItems>${idOnly}<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:SyncState>${start}</m:SyncState>` +
        `<m:Ignore><t:ItemId Id="${a.json.itemId}"/></m:Ignore><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>`,
      { as: 'dave@contoso.test', host: 'mail2.contoso.test' },
    )));
    assert.deepEqual(page.changes.map((c) => c.id), [b.json.itemId]);
  });

  test('SyncFolderItems refuses a state made for another folder, and MaxChangesReturned outside 1-512', async () => {
    const inboxState = readPage(ok(await syncItems(s, BOB, 'inbox', 1))).state;
    const wrong = responseMessages((await syncItems(s, BOB, 'sentitems', 10, inboxState)).doc())[0]!;
    assert.equal(responseCode(wrong), 'ErrorInvalidSyncStateData');
    assert.equal(child(wrong, M, 'MessageText')!.text, 'Synchronization state data is corrupt or otherwise invalid.');
    const tampered = responseMessages((await syncItems(s, BOB, 'inbox', 10, inboxState.slice(0, -8) + 'AAAAAAA=')).doc())[0]!;
    assert.equal(responseCode(tampered), 'ErrorInvalidSyncStateData');
    for (const max of [0, 513]) {
      const answer = await syncItems(s, BOB, 'inbox', max);
      assert.equal(answer.status, 500);
      assert.equal(faultCode(answer), 'ErrorSchemaValidation');
    }
  });

  test('SyncFolderItems does not return bodies (GetItem does): asked for one, it leaves it out', async () => {
    const changes = ok(
      await s.ews(
        '<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>' +
          '<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderItems>',
        { as: BOB },
      ),
    );
    assert.ok(find(changes, 'Subject').length > 0);
    assert.equal(find(changes, 'Body').length, 0);
  });

  test('FindItem filters, sorts and pages; GetItem returns the MIME, the body and the attachments', async () => {
    const found = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>' +
          '<m:IndexedPageItemView MaxEntriesReturned="5" Offset="0" BasePoint="Beginning"/>' +
          '<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:InternetMessageId"/><t:FieldURIOrConstant><t:Constant Value="&lt;contract@adatum.test&gt;"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>' +
          '<m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder></m:SortOrder>' +
          '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>',
        { as: BOB },
      ),
    );
    assert.deepEqual(find(found, 'Subject').map((e) => e.text), ['Signed contract']);
    assert.equal(find(found, 'HasAttachments')[0]!.text, 'true');
    assert.equal(find(found, 'Body').length, 0, 'FindItem never returns bodies');
    const id = ids(found)[0]!;

    const item = ok(
      await s.ews(
        `<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:BodyType>Text</t:BodyType></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`,
        { as: BOB },
      ),
    );
    const message = find(item, 'Message')[0]!;
    assert.equal(message.children[0]!.local, 'MimeContent', 'MIME comes first, as the schema orders it');
    const mime = Buffer.from(message.children[0]!.text, 'base64').toString('utf8');
    assert.match(mime, /Subject: Signed contract/);
    assert.match(mime, /Message-ID: <contract@adatum.test>/i);
    assert.match(find(item, 'Body')[0]!.text, /signed contract is attached/);
    assert.deepEqual(find(item, 'FileAttachment').map((a) => child(a, a.ns, 'Name')!.text), ['contract.pdf']);
  });

  test('FindItem pages with Offset and reports where the page ends', async () => {
    const page = (offset: number) =>
      s.ews(
        `<m:FindItem Traversal="Shallow">${idOnly}<m:IndexedPageItemView MaxEntriesReturned="3" Offset="${offset}" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>`,
        { as: CAROL },
      );
    const first = child(ok(await page(0)), M, 'RootFolder')!;
    const total = Number(attr(first, 'TotalItemsInView'));
    assert.ok(total > 3);
    assert.deepEqual([attr(first, 'IndexedPagingOffset'), attr(first, 'IncludesLastItemInRange')], ['3', 'false']);
    const last = child(ok(await page(total - 1)), M, 'RootFolder')!;
    assert.equal(attr(last, 'IncludesLastItemInRange'), 'true');
  });

  test('CreateItem SaveOnly stores a draft; SendAndSaveCopy delivers inside and records mail to outside', async () => {
    const draft = ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Draft</t:Subject><t:Body BodyType="Text">Later</t:Body>' +
          '<t:ToRecipients><t:Mailbox><t:EmailAddress>carol@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>',
        { as: BOB },
      ),
    );
    assert.equal(ids(draft).length, 1, 'SaveOnly returns the new item id');
    const drafts = await s.control<Array<{ subject: string }>>('GET', `/mailboxes/${BOB}/folders/drafts/items`);
    assert.deepEqual(drafts.json.map((d) => d.subject), ['Draft']);

    const sent = ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId>' +
          '<m:Items><t:Message><t:Subject>Your quote</t:Subject><t:Body BodyType="HTML">&lt;p&gt;Attached.&lt;/p&gt;</t:Body>' +
          '<t:ToRecipients><t:Mailbox><t:EmailAddress>jane.doe@fabrikam.test</t:EmailAddress></t:Mailbox></t:ToRecipients>' +
          '<t:CcRecipients><t:Mailbox><t:EmailAddress>alice@contoso.test</t:EmailAddress></t:Mailbox></t:CcRecipients>' +
          '<t:BccRecipients><t:Mailbox><t:EmailAddress>sales@contoso.test</t:EmailAddress></t:Mailbox></t:BccRecipients>' +
          '</t:Message></m:Items></m:CreateItem>',
        { as: BOB },
      ),
    );
    assert.equal(child(sent, M, 'Items')!.children.length, 0, 'sending answers with an empty Items');
    const copies = await s.control<Array<{ subject: string; isRead: boolean; internetMessageId: string }>>('GET', `/mailboxes/${BOB}/folders/sentitems/items`);
    assert.deepEqual(copies.json.map((c) => [c.subject, c.isRead]), [['Your quote', true]]);
    const alice = await s.control<Array<{ subject: string; internetMessageId: string }>>('GET', '/mailboxes/alice@contoso.test/folders/inbox/items');
    const delivered = alice.json.find((m) => m.subject === 'Your quote');
    assert.ok(delivered, 'delivered to a recipient inside the sandbox');
    assert.equal(delivered.internetMessageId, copies.json[0]!.internetMessageId, 'one Message-ID for the sent copy and the delivered one');
    const sales = await s.control<Array<{ subject: string }>>('GET', '/mailboxes/sales@contoso.test/folders/inbox/items');
    assert.ok(sales.json.some((m) => m.subject === 'Your quote'), 'Bcc recipients receive it too');
    const outbound = await s.control<Array<{ recipients: string[]; subject: string }>>('GET', '/outbound');
    assert.deepEqual(outbound.json.filter((o) => o.subject === 'Your quote').map((o) => o.recipients), [['jane.doe@fabrikam.test']]);

    // The delivered copy does not reveal the Bcc recipient; the sent copy does.
    const deliveredId = (await s.control<Array<{ itemId: string; subject: string }>>('GET', '/mailboxes/alice@contoso.test/folders/inbox/items')).json.find(
      (m) => m.subject === 'Your quote',
    )!.itemId;
    const item = ok(
      await s.ews(
        `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="${deliveredId}"/></m:ItemIds></m:GetItem>`,
        { as: 'alice@contoso.test' },
      ),
    );
    assert.doesNotMatch(Buffer.from(find(item, 'MimeContent')[0]!.text, 'base64').toString(), /^Bcc:/im);
  });

  test('SendOnly keeps no copy; sending needs a recipient; sending as someone else is ErrorSendAsDenied', async () => {
    const before = (await s.control<unknown[]>('GET', `/mailboxes/${CAROL}/folders/sentitems/items`)).json.length;
    ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Quick note</t:Subject>' +
          '<t:ToRecipients><t:Mailbox><t:EmailAddress>bob@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>',
        { as: CAROL },
      ),
    );
    assert.equal((await s.control<unknown[]>('GET', `/mailboxes/${CAROL}/folders/sentitems/items`)).json.length, before);
    const none = await s.ews('<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Nobody</t:Subject></t:Message></m:Items></m:CreateItem>', { as: CAROL });
    assert.equal(responseCode(responseMessages(none.doc())[0]!), 'ErrorInvalidRecipients');
    const spoof = await s.ews(
      '<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Spoof</t:Subject>' +
        '<t:ToRecipients><t:Mailbox><t:EmailAddress>bob@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients>' +
        '<t:From><t:Mailbox><t:EmailAddress>alice@contoso.test</t:EmailAddress></t:Mailbox></t:From></t:Message></m:Items></m:CreateItem>',
      { as: CAROL },
    );
    const refused = responseMessages(spoof.doc())[0]!;
    assert.equal(responseCode(refused), 'ErrorSendAsDenied');
    assert.ok(child(refused, M, 'Items'), 'an error message still carries an empty Items element');
    const noDisposition = await s.ews('<m:CreateItem><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>', { as: CAROL });
    assert.equal(responseCode(responseMessages(noDisposition.doc())[0]!), 'ErrorMessageDispositionRequired');
  });

  test('CreateItem sends MIME as given; SendItem sends a saved draft', async () => {
    const mime = Buffer.from(
      'From: Bob Brown <bob@contoso.test>\r\nTo: carol@contoso.test\r\nSubject: MIME hello\r\nMessage-ID: <mime-hello@contoso.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHi Carol\r\n',
    ).toString('base64');
    ok(await s.ews(`<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:Message><t:MimeContent>${mime}</t:MimeContent></t:Message></m:Items></m:CreateItem>`, { as: BOB }));
    const carol = await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${CAROL}/folders/inbox/items`);
    assert.ok(carol.json.some((m) => m.internetMessageId === '<mime-hello@contoso.test>'));

    const draft = ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>From drafts</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>carol@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>',
        { as: BOB },
      ),
    );
    ok(await s.ews(`<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="${ids(draft)[0]}"/></m:ItemIds></m:SendItem>`, { as: BOB }));
    const sentItems = await s.control<Array<{ subject: string }>>('GET', `/mailboxes/${BOB}/folders/sentitems/items`);
    assert.ok(sentItems.json.some((m) => m.subject === 'From drafts'));
    assert.ok((await s.control<Array<{ subject: string }>>('GET', `/mailboxes/${CAROL}/folders/inbox/items`)).json.some((m) => m.subject === 'From drafts'));
  });

  test('MoveItem gives a new id and the old one is gone; MoveToDeletedItems; UpdateItem categories and change keys', async () => {
    const inbox = await s.control<Array<{ itemId: string; subject: string }>>('GET', '/mailboxes/sales@contoso.test/folders/inbox/items');
    const id = inbox.json.find((m) => m.subject === 'Pricing question')!.itemId;
    const folder = ok(await s.ews('<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Undeliverable</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>', { as: 'sales@contoso.test' }));
    const moved = ok(await s.ews(`<m:MoveItem><m:ToFolderId><t:FolderId Id="${ids(folder, 'FolderId')[0]}"/></m:ToFolderId><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:MoveItem>`, { as: 'sales@contoso.test' }));
    const newId = ids(moved)[0]!;
    assert.notEqual(newId, id);
    const old = await s.ews(`<m:GetItem>${idOnly}<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: 'sales@contoso.test' });
    assert.equal(responseCode(responseMessages(old.doc())[0]!), 'ErrorItemNotFound');
    assert.ok((await s.control<Array<{ subject: string }>>('GET', '/mailboxes/sales@contoso.test/folders/Inbox%2FUndeliverable/items')).json.some((m) => m.subject === 'Pricing question'));

    const changeKey = attr(find(ok(await s.ews(`<m:GetItem>${idOnly}<m:ItemIds><t:ItemId Id="${newId}"/></m:ItemIds></m:GetItem>`, { as: 'sales@contoso.test' })), 'ItemId')[0], 'ChangeKey')!;
    const update = (key: string, resolution: string, category: string) =>
      s.ews(
        `<m:UpdateItem ConflictResolution="${resolution}"><m:ItemChanges><t:ItemChange><t:ItemId Id="${newId}" ChangeKey="${key}"/><t:Updates>` +
          `<t:SetItemField><t:FieldURI FieldURI="item:Categories"/><t:Message><t:Categories><t:String>${category}</t:String></t:Categories></t:Message></t:SetItemField>` +
          `</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`,
        { as: 'sales@contoso.test' },
      );
    const updated = ok(await update(changeKey, 'NeverOverwrite', 'Tracked to CRM'));
    assert.notEqual(attr(find(updated, 'ItemId')[0], 'ChangeKey'), changeKey, 'a change makes a new change key');
    const stale = responseMessages((await update(changeKey, 'NeverOverwrite', 'Second')).doc())[0]!;
    assert.equal(responseCode(stale), 'ErrorIrresolvableConflict');
    ok(await update(changeKey, 'AutoResolve', 'Second'));
    const categories = await s.control<Array<{ subject: string; categories: string[] }>>('GET', '/mailboxes/sales@contoso.test/folders/Inbox%2FUndeliverable/items');
    assert.deepEqual(categories.json[0]!.categories, ['Second']);

    ok(await s.ews(`<m:DeleteItem DeleteType="MoveToDeletedItems"><m:ItemIds><t:ItemId Id="${newId}"/></m:ItemIds></m:DeleteItem>`, { as: 'sales@contoso.test' }));
    assert.ok((await s.control<Array<{ subject: string }>>('GET', '/mailboxes/sales@contoso.test/folders/deleteditems/items')).json.some((m) => m.subject === 'Pricing question'));
  });

  test('ResolveNames: one match is Success, several a Warning with the set, none an Error', async () => {
    assert.equal((await s.control('POST', '/mailboxes', { address: 'anna@contoso.test', displayName: 'Anna Archer' })).status, 201);
    const resolve = (entry: string) => s.ews(`<m:ResolveNames ReturnFullContactData="true"><m:UnresolvedEntry>${entry}</m:UnresolvedEntry></m:ResolveNames>`, { as: BOB });
    const one = responseMessages((await resolve('alice@contoso.test')).doc())[0]!;
    assert.equal(responseClass(one), 'Success');
    assert.deepEqual(find(one, 'EmailAddress').map((e) => e.text), ['alice@contoso.test']);
    const several = responseMessages((await resolve('a')).doc())[0]!;
    assert.deepEqual([responseClass(several), responseCode(several)], ['Warning', 'ErrorNameResolutionMultipleResults']);
    assert.ok(find(several, 'Resolution').length >= 2);
    const none = responseMessages((await resolve('nobody-here')).doc())[0]!;
    assert.deepEqual([responseClass(none), responseCode(none), find(none, 'ResolutionSet').length], ['Error', 'ErrorNameResolutionNoResults', 0]);
  });

  test('ConvertId converts between formats and back', async () => {
    const inbox = await s.control<Array<{ itemId: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    const id = inbox.json[0]!.itemId;
    const convert = (format: string, value: string, to: string) =>
      s.ews(
        `<m:ConvertId DestinationFormat="${to}"><m:SourceIds><t:AlternateId Format="${format}" Id="${value}" Mailbox="${BOB}"/></m:SourceIds></m:ConvertId>`,
        { as: BOB },
      );
    const hex = attr(find(ok(await convert('EwsId', id, 'HexEntryId')), 'AlternateId')[0], 'Id')!;
    assert.match(hex, /^[0-9A-F]+$/);
    const back = find(ok(await convert('HexEntryId', hex, 'EwsId')), 'AlternateId')[0]!;
    assert.equal(attr(back, 'Id'), id);
    assert.equal(attr(back, 'type', 'http://www.w3.org/2001/XMLSchema-instance'), 't:AlternateIdType');
    const bad = responseMessages((await convert('EwsId', 'AAAA', 'HexEntryId')).doc())[0]!;
    assert.equal(responseCode(bad), 'ErrorInvalidIdMalformed');
  });

  testTraffic(() => s.records, 30);
});
