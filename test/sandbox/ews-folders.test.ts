import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child, children } from '../../src/xml/parse.js';
import { faultCode, find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const folderShape = '<m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>';

describe('sandbox EWS: folders', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });



  test('GetFolder answers one message per folder, errors in place, in request order', async () => {
    const inbox = ok(await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`, { as: ALICE }));
    const inboxId = ids(inbox, 'FolderId')[0]!;
    assert.equal(find(inbox, 'DisplayName')[0]!.text, 'Inbox');
    assert.equal(find(inbox, 'TotalCount')[0]!.text, '2', 'the demo data has two messages in Alice\'s inbox');
    assert.equal(find(inbox, 'UnreadCount')[0]!.text, '2');

    const answer = await s.ews(
      `<m:GetFolder>${folderShape}<m:FolderIds>` +
        `<t:FolderId Id="${inboxId}"/><t:FolderId Id="not-an-id"/><t:DistinguishedFolderId Id="sentitems"/>` +
        `<t:FolderId Id="${inboxId.replace(/AAAA(.)=$/, 'AAAA9=')}"/>` +
        `</m:FolderIds></m:GetFolder>`,
      { as: ALICE },
    );
    const messages = responseMessages(answer.doc());
    assert.deepEqual(messages.map(responseClass), ['Success', 'Error', 'Success', 'Error']);
    assert.deepEqual(messages.map(responseCode), ['NoError', 'ErrorInvalidIdMalformed', 'NoError', 'ErrorItemNotFound']);
    assert.equal(child(messages[1]!, M, 'MessageText')!.text, 'Id is malformed.');
    assert.equal(child(messages[1]!, M, 'DescriptiveLinkKey')!.text, '0');
    assert.ok(child(messages[1]!, M, 'Folders'), 'an error message still carries an empty Folders element, as Exchange does');
  });

  test('a folder id of another mailbox is refused', async () => {
    const bobInbox = ok(await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`, { as: 'bob@contoso.test' }));
    const answer = await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:FolderId Id="${ids(bobInbox, 'FolderId')[0]}"/></m:FolderIds></m:GetFolder>`, { as: ALICE });
    assert.equal(responseCode(responseMessages(answer.doc())[0]!), 'ErrorAccessDenied');
  });

  test('CreateFolder creates under a parent; the same name again is ErrorFolderExists', async () => {
    const create = (name: string, parent = '<t:DistinguishedFolderId Id="inbox"/>') =>
      s.ews(`<m:CreateFolder><m:ParentFolderId>${parent}</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>${name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>`, { as: ALICE });
    const created = ok(await create('Undeliverable'));
    assert.equal(ids(created, 'FolderId').length, 1);
    const again = responseMessages((await create('undeliverable')).doc())[0]!;
    assert.equal(responseCode(again), 'ErrorFolderExists');
    assert.equal(child(again, M, 'MessageText')!.text, 'A folder with the specified name already exists.');
    const missingParent = responseMessages((await create('X', '<t:FolderId Id="AAMkAGI3Yjk1MjdhLTc2ZmMtNDBkMi1iNjU4LTc5NGEzYTAzNTMyZAAuAAAAAAAAAAM="/>')).doc())[0]!;
    assert.equal(responseCode(missingParent), 'ErrorParentFolderNotFound', 'a parent id naming a mailbox that does not exist (Exchange 2010 on)');
    const folders = await s.control<Array<{ path: string }>>('GET', `/mailboxes/${ALICE}/folders`);
    assert.ok(folders.json.some((f) => f.path === 'Inbox/Undeliverable'));
  });

  test('FindFolder lists children (Shallow) or the whole tree (Deep), with a restriction', async () => {
    const shallow = ok(
      await s.ews(`<m:FindFolder Traversal="Shallow">${folderShape}<m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`, { as: ALICE }),
    );
    const names = find(shallow, 'DisplayName').map((d) => d.text);
    assert.ok(names.includes('Inbox') && names.includes('Sent Items'));
    assert.ok(!names.includes('Undeliverable'), 'Shallow does not descend');
    const root = child(shallow, M, 'RootFolder')!;
    assert.equal(attr(root, 'IncludesLastItemInRange'), 'true');
    assert.equal(Number(attr(root, 'TotalItemsInView')), names.length);

    const deep = ok(
      await s.ews(
        `<m:FindFolder Traversal="Deep">${folderShape}<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="folder:DisplayName"/>` +
          `<t:FieldURIOrConstant><t:Constant Value="Undeliverable"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>` +
          `<m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`,
        { as: ALICE },
      ),
    );
    assert.deepEqual(find(deep, 'DisplayName').map((d) => d.text), ['Undeliverable']);
  });

  test('SyncFolderHierarchy: everything first, then only what changed', async () => {
    const sync = (state?: string) =>
      s.ews(`<m:SyncFolderHierarchy>${folderShape}${state ? `<m:SyncState>${state}</m:SyncState>` : ''}</m:SyncFolderHierarchy>`, { as: 'carol@contoso.test' });
    const first = ok(await sync());
    const created = find(child(first, M, 'Changes')!, 'Create');
    assert.ok(created.length >= 10, 'the whole tree under the message root');
    assert.ok(find(first, 'DisplayName').some((d) => d.text === 'Projects'));
    const state = child(first, M, 'SyncState')!.text;
    assert.match(state, /^H4sI/, 'sync states are gzip blobs, as Exchange\'s are');
    assert.equal(child(first, M, 'IncludesLastFolderInRange')!.text, 'true');

    const quiet = ok(await sync(state));
    assert.equal(child(quiet, M, 'Changes')!.children.length, 0);

    ok(await s.ews('<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Archive 2026</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>', { as: 'carol@contoso.test' }));
    const next = ok(await sync(child(quiet, M, 'SyncState')!.text));
    const changes = child(next, M, 'Changes')!.children;
    assert.deepEqual(changes.map((c) => c.local), ['Create']);
    assert.equal(find(changes[0]!, 'DisplayName')[0]!.text, 'Archive 2026');
  });

  test('a damaged SyncState is ErrorInvalidSyncStateData, with an empty state and the range complete', async () => {
    const answer = await s.ews(`<m:SyncFolderHierarchy>${folderShape}<m:SyncState>H4sIAAAAAAAEAO29B2AcSZY==</m:SyncState></m:SyncFolderHierarchy>`, { as: ALICE });
    const message = responseMessages(answer.doc())[0]!;
    assert.equal(responseCode(message), 'ErrorInvalidSyncStateData');
    assert.equal(child(message, M, 'SyncState')!.text, '');
    assert.equal(child(message, M, 'IncludesLastFolderInRange')!.text, 'true');
  });

  test('DeleteFolder and MoveFolder; distinguished folders cannot be deleted', async () => {
    const make = ok(await s.ews('<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Temp</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>', { as: ALICE }));
    const id = ids(make, 'FolderId')[0]!;
    ok(await s.ews(`<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="msgfolderroot"/></m:ToFolderId><m:FolderIds><t:FolderId Id="${id}"/></m:FolderIds></m:MoveFolder>`, { as: ALICE }));
    ok(await s.ews(`<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="${id}"/></m:FolderIds></m:DeleteFolder>`, { as: ALICE }));
    const gone = await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:FolderId Id="${id}"/></m:FolderIds></m:GetFolder>`, { as: ALICE });
    assert.equal(responseCode(responseMessages(gone.doc())[0]!), 'ErrorItemNotFound');
    const inbox = await s.ews('<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:DeleteFolder>', { as: ALICE });
    assert.equal(responseCode(responseMessages(inbox.doc())[0]!), 'ErrorDeleteDistinguishedFolder');
  });

  test('a distinguished folder id the schema does not know is a schema-validation fault (HTTP 500)', async () => {
    const answer = await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:DistinguishedFolderId Id="invalidparentid"/></m:FolderIds></m:GetFolder>`, { as: ALICE });
    assert.equal(answer.status, 500);
    assert.equal(faultCode(answer), 'ErrorSchemaValidation');
    const detail = find(answer.doc(), 'MessageXml')[0]!;
    assert.deepEqual(children(detail, T).map((c) => c.local), ['LineNumber', 'LinePosition', 'Violation']);
    assert.match(find(detail, 'Violation')[0]!.text, /invalidparentid/);
  });

  testTraffic(() => s.records, 10);
});
