/**
 * Errors as Exchange gives them.
 *
 * - ErrorInvalidChangeKey "The change key is invalid.": a ChangeKey that cannot be parsed, "for example, invalid
 *   base64 content or an empty string" (ms-docs responsecode.md); the message text as Exchange writes it (the
 *   EWS Managed API's ServiceError list, ported by ews-javascript-api).
 * - Change keys: each change of an item or folder has its own (Exchange's carry a change number).
 * - ErrorInvalidSubscription for an id that is no subscription id at all, ErrorSubscriptionNotFound for one that
 *   names no subscription (responsecode.md: "…or an invalid subscription was passed in" is NotFound only when the
 *   id could be read).
 * - ErrorInvalidRequest for a Body that holds no EWS operation (responsecode.md: "the SOAP request has a SOAP
 *   action header, but nothing in the SOAP body"; EWS "can determine the method to call from the local name of
 *   the root element in the SOAP body"); an unknown element inside an operation breaks the schema, and Exchange
 *   says so with ErrorSchemaValidation ("has invalid child element …", nmarus/node-ews#18, otris/ews-cpp#153).
 * - A restriction on a property that cannot be searched is ErrorUnsupportedPathForQuery whatever the folder holds.
 * - An operation the sandbox does not implement is not answered as a version problem (ErrorInvalidRequest,
 *   ErrorInvalidServerVersion, ErrorIncorrectSchemaVersion make exchangelib retry with every older version).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { attr, child } from '../../src/xml/parse.js';
import { envelope, faultCode, find, ids, M, ok, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const CAROL = 'carol@contoso.test';
const idOnly = '<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>';

describe('sandbox EWS: errors as Exchange gives them', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const code = async (payload: string) => {
    const answer = await s.ews(payload, { as: CAROL });
    return answer.status === 500 ? faultCode(answer) : responseCode(responseMessages(answer.doc())[0]!);
  };
  const draft = async (subject: string) =>
    find(
      ok(await s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>${subject}</t:Subject></t:Message></m:Items></m:CreateItem>`, { as: CAROL })),
      'ItemId',
    )[0]!;
  const keyOf = (element: ReturnType<typeof find>[number]) => attr(element, 'ChangeKey')!;

  test('a ChangeKey that cannot be read is ErrorInvalidChangeKey; a stale one that can is not', async () => {
    const created = await draft('change keys');
    const id = attr(created, 'Id')!;
    for (const bad of ['', 'not base64!', 'AAAA', 'CQAAABYAAAA=']) {
      const get = await s.ews(`<m:GetItem>${idOnly}<m:ItemIds><t:ItemId Id="${id}" ChangeKey="${bad}"/></m:ItemIds></m:GetItem>`, { as: CAROL });
      const message = responseMessages(get.doc())[0]!;
      assert.deepEqual([responseCode(message), child(message, M, 'MessageText')!.text], ['ErrorInvalidChangeKey', 'The change key is invalid.'], JSON.stringify(bad));
    }
    const update = (key: string) =>
      code(
        `<m:UpdateItem ConflictResolution="AutoResolve" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}" ChangeKey="${key}"/><t:Updates>` +
          '<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>changed</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>',
      );
    assert.equal(await update('bad key'), 'ErrorInvalidChangeKey');
    const drafts = await s.control<Array<{ itemId: string; subject: string }>>('GET', `/mailboxes/${CAROL}/folders/drafts/items`);
    assert.equal(drafts.json.find((d) => d.itemId === id)!.subject, 'change keys', 'the refused update changed nothing');
    assert.equal(await update(keyOf(created)), 'NoError');
    assert.equal(await code(`<m:GetItem>${idOnly}<m:ItemIds><t:ItemId Id="${id}" ChangeKey="${keyOf(created)}"/></m:ItemIds></m:GetItem>`), 'NoError', 'a stale key is fine for reading');

    const inbox = find(ok(await s.ews('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', { as: CAROL })), 'FolderId')[0]!;
    assert.equal(await code(`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="${attr(inbox, 'Id')}" ChangeKey="%%%"/></m:FolderIds></m:GetFolder>`), 'ErrorInvalidChangeKey');
    assert.equal(await code(`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="${attr(inbox, 'Id')}" ChangeKey="${keyOf(inbox)}"/></m:FolderIds></m:GetFolder>`), 'NoError');
  });

  test('every new item, every change, every move and copy gets a change key of its own', async () => {
    const keys: string[] = [];
    const first = await draft('one');
    keys.push(keyOf(first), keyOf(await draft('two')), keyOf(await draft('three')));
    const id = attr(first, 'Id')!;
    const setSubject = async (subject: string) =>
      find(
        ok(
          await s.ews(
            `<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}"/><t:Updates>` +
              `<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>${subject}</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`,
            { as: CAROL },
          ),
        ),
        'ItemId',
      )[0]!;
    keys.push(keyOf(await setSubject('one, again')), keyOf(await setSubject('one, third time')));
    const copied = ok(await s.ews(`<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="inbox"/></m:ToFolderId><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:CopyItem>`, { as: CAROL }));
    const moved = ok(await s.ews(`<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="deleteditems"/></m:ToFolderId><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:MoveItem>`, { as: CAROL }));
    keys.push(keyOf(find(copied, 'ItemId')[0]!), keyOf(find(moved, 'ItemId')[0]!));
    assert.equal(new Set(keys).size, keys.length, `distinct change keys: ${keys.join(' ')}`);
    assert.ok(keys.every((k) => k.startsWith('CQAAABYAAA')), 'item change keys start as Exchange’s do');

    const folder = (name: string) =>
      s.ews(`<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>${name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>`, { as: CAROL });
    const folderKeys = [keyOf(find(ok(await folder('Keys A')), 'FolderId')[0]!), keyOf(find(ok(await folder('Keys B')), 'FolderId')[0]!)];
    assert.notEqual(folderKeys[0], folderKeys[1]);
    assert.ok(folderKeys.every((k) => k.startsWith('AQAAABYAAA')));
  });

  test('a subscription id that cannot be one is ErrorInvalidSubscription; one that names none is ErrorSubscriptionNotFound', async () => {
    const unknown = Buffer.from(`${randomUUID()}|${randomUUID()}`).toString('base64');
    for (const [id, expected] of [
      ['not a subscription', 'ErrorInvalidSubscription'],
      ['bm8tc3VjaA==', 'ErrorInvalidSubscription'],
      [unknown, 'ErrorSubscriptionNotFound'],
    ] as const) {
      assert.equal(await code(`<m:GetEvents><m:SubscriptionId>${id}</m:SubscriptionId><m:Watermark>AAAA</m:Watermark></m:GetEvents>`), expected, id);
      assert.equal(await code(`<m:Unsubscribe><m:SubscriptionId>${id}</m:SubscriptionId></m:Unsubscribe>`), expected, id);
      const stream = await s.ews(
        `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`,
        { as: CAROL },
      );
      const message = responseMessages(stream.doc())[0]!;
      assert.deepEqual([responseCode(message), child(message, M, 'ConnectionStatus')!.text], [expected, 'Closed'], id);
    }
  });

  test('a Body without an EWS operation is ErrorInvalidRequest; an unknown element inside one is ErrorSchemaValidation', async () => {
    const post = (payload: string) => s.post('mail.contoso.test', '/EWS/Exchange.asmx', envelope(payload, { as: CAROL }));
    for (const payload of ['', '<m:Frobnicate/>', '<m:GetFolderResponse/>', '<x:GetFolder xmlns:x="urn:not-ews"/>', '<t:Folder/>']) {
      const answer = await post(payload);
      assert.deepEqual([answer.status, faultCode(answer)], [500, 'ErrorInvalidRequest'], payload);
      assert.match(answer.text, /<faultstring xml:lang="en-US">The request is invalid\.<\/faultstring>/);
    }
    const inMessages = await post('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:Bogus/><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>');
    assert.equal(faultCode(inMessages), 'ErrorSchemaValidation');
    assert.match(find(inMessages.doc(), 'Violation')[0]!.text, /Bogus/);
    const inTypes = await post('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:Bogus/></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>');
    assert.equal(faultCode(inTypes), 'ErrorSchemaValidation');
  });

  test('a restriction on a property that cannot be searched is refused even in an empty folder', async () => {
    const created = ok(await s.ews('<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Empty</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>', { as: CAROL }));
    const folderId = ids(created, 'FolderId')[0]!;
    for (const uri of ['item:MimeContent', 'item:EffectiveRights']) {
      const findItem = `<m:FindItem Traversal="Shallow">${idOnly}<m:Restriction><t:Exists><t:FieldURI FieldURI="${uri}"/></t:Exists></m:Restriction><m:ParentFolderIds><t:FolderId Id="${folderId}"/></m:ParentFolderIds></m:FindItem>`;
      assert.equal(await code(findItem), 'ErrorUnsupportedPathForQuery', uri);
    }
    const nested = `<m:FindItem Traversal="Shallow">${idOnly}<m:Restriction><t:Or><t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists><t:Not><t:Exists><t:FieldURI FieldURI="item:EffectiveRights"/></t:Exists></t:Not></t:Or></m:Restriction><m:ParentFolderIds><t:FolderId Id="${folderId}"/></m:ParentFolderIds></m:FindItem>`;
    assert.equal(await code(nested), 'ErrorUnsupportedPathForQuery', 'inside Or and Not too');
    const findFolder = `<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:Restriction><t:Exists><t:FieldURI FieldURI="folder:EffectiveRights"/></t:Exists></m:Restriction><m:ParentFolderIds><t:FolderId Id="${folderId}"/></m:ParentFolderIds></m:FindFolder>`;
    assert.equal(await code(findFolder), 'ErrorUnsupportedPathForQuery');
  });

  test('an operation the sandbox does not implement is ErrorInvalidOperation, not a version problem', async () => {
    const answer = await s.ews('<m:GetAppManifests/>', { as: CAROL });
    assert.deepEqual([answer.status, faultCode(answer)], [500, 'ErrorInvalidOperation']);
    assert.match(answer.text, /does not implement GetAppManifests/);
  });

  testTraffic(() => s.records, 20);
});
