/**
 * Every xs:boolean the sandbox reads from a request, sent both ways: `true`/`false` and `1`/`0` are the same
 * values in XML Schema (XML Schema Part 2, 3.2.2 boolean: the lexical space is {true, false, 1, 0}), and several
 * EWS clients write the digits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { child } from '../../src/xml/parse.js';
import { xsBoolean } from '../../src/xml/xs-boolean.js';
import { find, ids, M, ok, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const DAVE = 'dave@contoso.test';
const ALICE = 'alice@contoso.test';
const SPELLINGS: ReadonlyArray<readonly [string, string]> = [
  ['true', 'false'],
  ['1', '0'],
];

interface ListedItem {
  itemId: string;
  subject: string;
  isRead: boolean;
}

test('xsBoolean reads the lexical space of xs:boolean and nothing else', () => {
  assert.deepEqual(['true', '1', ' true\n', 'false', '0', '\t0 '].map(xsBoolean), [true, true, true, false, false, false]);
  assert.deepEqual(['True', 'yes', '', '2', undefined, null].map(xsBoolean), [undefined, undefined, undefined, undefined, undefined, undefined]);
});

describe('sandbox EWS: xs:boolean values written as 1 and 0', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const items = async (mailbox: string, folder: string) => (await s.control<ListedItem[]>('GET', `/mailboxes/${mailbox}/folders/${folder}/items`)).json;
  const draft = (subject: string, isRead: string) =>
    s.ews(
      `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>${subject}</t:Subject><t:IsRead>${isRead}</t:IsRead></t:Message></m:Items></m:CreateItem>`,
      { as: DAVE, host: 'mail2.contoso.test' },
    );

  for (const [yes, no] of SPELLINGS) {
    test(`CreateItem and UpdateItem IsRead ${yes}/${no}; a restriction on IsRead ${yes}/${no}`, async () => {
      const read = ids(ok(await draft(`read ${yes}`, yes)))[0]!;
      const unread = ids(ok(await draft(`unread ${no}`, no)))[0]!;
      const byId = async () => new Map((await items(DAVE, 'drafts')).map((i) => [i.itemId, i.isRead]));
      assert.deepEqual([(await byId()).get(read), (await byId()).get(unread)], [true, false], 'CreateItem stores the flag as sent');

      const setRead = (id: string, value: string) =>
        s.ews(
          `<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}"/><t:Updates>` +
            `<t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>${value}</t:IsRead></t:Message></t:SetItemField>` +
            '</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>',
          { as: DAVE, host: 'mail2.contoso.test' },
        );
      ok(await setRead(read, no));
      ok(await setRead(unread, yes));
      assert.deepEqual([(await byId()).get(read), (await byId()).get(unread)], [false, true], 'UpdateItem sets the flag as sent');

      const filtered = async (value: string) =>
        find(
          ok(
            await s.ews(
              '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>' +
                `<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="${value}"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>` +
                '<m:ParentFolderIds><t:DistinguishedFolderId Id="drafts"/></m:ParentFolderIds></m:FindItem>',
              { as: DAVE, host: 'mail2.contoso.test' },
            ),
          ),
          'ItemId',
        ).map((e) => e.attributes.find((a) => a.local === 'Id')!.value);
      const listed = await byId();
      const readIds = [...listed].filter(([, isRead]) => isRead).map(([id]) => id).sort();
      const unreadIds = [...listed].filter(([, isRead]) => !isRead).map(([id]) => id).sort();
      assert.ok(readIds.includes(unread) && unreadIds.includes(read));
      assert.deepEqual((await filtered(yes)).sort(), readIds, `IsRead = ${yes} finds the read messages`);
      assert.deepEqual((await filtered(no)).sort(), unreadIds, `IsRead = ${no} finds the unread ones`);
    });

    test(`IncludeMimeContent ${yes}/${no}`, async () => {
      const id = (await items(ALICE, 'inbox'))[0]!.itemId;
      const get = async (value: string) =>
        find(
          ok(
            await s.ews(
              `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>${value}</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`,
              { as: ALICE },
            ),
          ),
          'MimeContent',
        ).length;
      assert.deepEqual([await get(yes), await get(no)], [1, 0]);
    });

    test(`ResolveNames ReturnFullContactData ${yes}/${no}`, async () => {
      const resolve = async (value: string) =>
        find(ok(await s.ews(`<m:ResolveNames ReturnFullContactData="${value}"><m:UnresolvedEntry>bob@contoso.test</m:UnresolvedEntry></m:ResolveNames>`, { as: ALICE })), 'Contact').length;
      assert.deepEqual([await resolve(yes), await resolve(no)], [1, 0]);
    });

    test(`Subscribe SubscribeToAllFolders ${yes}/${no}`, async () => {
      const subscribe = async (value: string) => {
        const folders = value === yes ? '' : '<t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>';
        const answer = ok(
          await s.ews(
            `<m:Subscribe><m:PullSubscriptionRequest SubscribeToAllFolders="${value}">${folders}<t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:Timeout>5</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>`,
            { as: ALICE },
          ),
        );
        return { id: child(answer, M, 'SubscriptionId')!.text, watermark: child(answer, M, 'Watermark')!.text };
      };
      const all = await subscribe(yes);
      const inboxOnly = await subscribe(no);
      await s.control('POST', `/mailboxes/${ALICE}/messages`, { from: 'x@fabrikam.test', to: [ALICE], subject: `Junk ${yes}`, folder: 'junkemail' });
      const created = async (sub: { id: string; watermark: string }) =>
        find(ok(await s.ews(`<m:GetEvents><m:SubscriptionId>${sub.id}</m:SubscriptionId><m:Watermark>${sub.watermark}</m:Watermark></m:GetEvents>`, { as: ALICE })), 'CreatedEvent').length;
      assert.deepEqual([await created(all), await created(inboxOnly)], [1, 0], 'only the subscription to all folders sees mail in Junk');
    });

    test(`MoveItem ReturnNewItemIds ${yes}/${no}; SendItem SaveItemToFolder ${yes}/${no}`, async () => {
      const move = async (value: string) => {
        const id = ids(ok(await draft(`to move ${value}`, 'false')))[0]!;
        const answer = ok(
          await s.ews(
            `<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="deleteditems"/></m:ToFolderId><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds><m:ReturnNewItemIds>${value}</m:ReturnNewItemIds></m:MoveItem>`,
            { as: DAVE, host: 'mail2.contoso.test' },
          ),
        );
        return ids(answer).length;
      };
      assert.deepEqual([await move(yes), await move(no)], [1, 0]);

      const send = async (value: string) => {
        const subject = `sent ${yes} ${value}`;
        const id = ids(
          ok(
            await s.ews(
              `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>${subject}</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>bob@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>`,
              { as: DAVE, host: 'mail2.contoso.test' },
            ),
          ),
        )[0]!;
        ok(await s.ews(`<m:SendItem SaveItemToFolder="${value}"><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:SendItem>`, { as: DAVE, host: 'mail2.contoso.test' }));
        return (await items(DAVE, 'sentitems')).filter((i) => i.subject === subject).length;
      };
      assert.deepEqual([await send(yes), await send(no)], [1, 0]);
    });
  }

  testTraffic(() => s.records, 40);
});
