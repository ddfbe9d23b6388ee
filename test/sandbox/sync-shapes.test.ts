/**
 * Which properties SyncFolderItems and FindItem take, as Exchange does.
 *
 * - SyncFolderItems "is similar to the FindItem operation in that it cannot return properties like Body or
 *   Attachments" (ms-docs syncfolderitems-operation.md), but it takes a shape that names them and leaves them
 *   out: exchangelib's sync_items() asks for every field, MimeContent and Attachments among them, and Exchange
 *   answers with items whose attachments and MIME are empty (ecederstrand/exchangelib#1370).
 * - FindItem refuses MIME: item:MimeContent or IncludeMimeContent is ErrorInvalidPropertyForOperation on
 *   Exchange 2010 SP2 (WinRb/Viewpoint#191, the answer pasted there), "Property is not valid for this operation."
 *   (Garethp/php-ews#149).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child } from '../../src/xml/parse.js';
import { find, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const EVERYTHING =
  '<t:AdditionalProperties>' +
  ['item:Attachments', 'item:Body', 'item:MimeContent', 'item:Subject', 'item:HasAttachments', 'message:ToRecipients', 'item:InternetMessageHeaders', 'message:IsRead']
    .map((uri) => `<t:FieldURI FieldURI="${uri}"/>`)
    .join('') +
  '</t:AdditionalProperties>';

describe('sandbox EWS: SyncFolderItems and FindItem with GetItem-only properties', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const sync = (mime: boolean, state?: string) =>
    s.ews(
      `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>${mime ? '<t:IncludeMimeContent>true</t:IncludeMimeContent>' : ''}${EVERYTHING}</m:ItemShape>` +
        `<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>${state ? `<m:SyncState>${state}</m:SyncState>` : ''}<m:MaxChangesReturned>50</m:MaxChangesReturned></m:SyncFolderItems>`,
      { as: BOB },
    );

  test('SyncFolderItems takes MimeContent, Body and Attachments in its shape and leaves them out of the changes', async () => {
    for (const mime of [false, true]) {
      const message = ok(await sync(mime));
      const created = find(message, 'Create');
      assert.ok(created.length > 0);
      assert.ok(find(message, 'Subject').some((e) => e.text === 'Signed contract'));
      assert.ok(find(message, 'HasAttachments').some((e) => e.text === 'true'), 'the light properties are there');
      for (const heavy of ['MimeContent', 'Body', 'Attachments', 'FileAttachment', 'InternetMessageHeaders', 'ToRecipients']) {
        assert.equal(find(message, heavy).length, 0, `${heavy} is left out`);
      }
    }
  });

  test('the Update changes leave them out too', async () => {
    const state = child(ok(await sync(true)), M, 'SyncState')!.text;
    const items = await s.control<Array<{ itemId: string; subject: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    const contract = items.json.find((i) => i.subject === 'Signed contract')!;
    ok(
      await s.ews(
        `<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${contract.itemId}"/><t:Updates>` +
          '<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>Signed contract (filed)</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>',
        { as: BOB },
      ),
    );
    const message = ok(await sync(true, state));
    assert.deepEqual(find(message, 'Update').map((u) => find(u, 'Subject')[0]!.text), ['Signed contract (filed)']);
    assert.equal(find(message, 'MimeContent').length + find(message, 'Attachments').length + find(message, 'Body').length, 0);
  });

  test('FindItem refuses MIME: ErrorInvalidPropertyForOperation, naming the property', async () => {
    const findItem = (shape: string) =>
      s.ews(`<m:FindItem Traversal="Shallow"><m:ItemShape>${shape}</m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>`, { as: BOB });
    const cases: Array<[string, string]> = [
      ['<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>', 'item:MimeContent'],
      ['<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:MimeContent"/></t:AdditionalProperties>', 'item:MimeContent'],
    ];
    for (const [shape, uri] of cases) {
      const message = responseMessages((await findItem(shape)).doc())[0]!;
      assert.deepEqual([responseClass(message), responseCode(message), child(message, M, 'MessageText')!.text], ['Error', 'ErrorInvalidPropertyForOperation', 'Property is not valid for this operation.']);
      assert.equal(attr(find(message, 'FieldURI')[0], 'FieldURI'), uri);
    }
    ok(await findItem('<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>false</t:IncludeMimeContent>'));
  });

  testTraffic(() => s.records, 10);
});
