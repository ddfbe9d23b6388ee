/**
 * The rest of a day's mail work: UpdateFolder, EmptyFolder, MarkAsJunk, ArchiveItem, GetServerTimeZones, ExpandDL,
 * the out-of-office settings, GetMailTips, GetUserConfiguration, and the directory features the sandbox does not
 * have (rooms, delegates), answered as Exchange answers an organisation without them. Each test names its source.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child, children, type XmlElement } from '../../src/xml/parse.js';
import { body, find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const folderShape = '<m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>';

describe('sandbox EWS: more operations', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const as = { as: ALICE };
  const createFolder = async (name: string, parent = 'inbox', folderClass?: string) =>
    ids(
      ok(
        await s.ews(
          `<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="${parent}"/></m:ParentFolderId><m:Folders><t:Folder>` +
            `${folderClass ? `<t:FolderClass>${folderClass}</t:FolderClass>` : ''}<t:DisplayName>${name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>`,
          as,
        ),
      ),
      'FolderId',
    )[0]!;
  const getFolder = async (id: string) => ok(await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:FolderId Id="${id}"/></m:FolderIds></m:GetFolder>`, as));
  const setField = (id: string, update: string) =>
    s.ews(`<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id="${id}"/><t:Updates>${update}</t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>`, as);
  const deliver = async (subject: string, folder = 'inbox', from = 'spam@spammer.test') => {
    const result = await s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from, to: [ALICE], subject, body: 'hello', folder });
    assert.equal(result.status, 201, JSON.stringify(result.json));
    return result.json.itemId;
  };
  const items = async (folder: string) => (await s.control<Array<{ subject: string; itemId: string }>>('GET', `/mailboxes/${ALICE}/folders/${encodeURIComponent(folder)}/items`)).json;

  // updatefolder-operation.md: SetFolderField on folder:DisplayName, the answer carries the folder id and a new change key.
  test('UpdateFolder renames a folder; the change key changes', async () => {
    const id = await createFolder('Leads', 'inbox', 'IPF.Note');
    const before = attr(find(await getFolder(id), 'FolderId')[0], 'ChangeKey');
    const answer = ok(await setField(id, '<t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Hot leads</t:DisplayName></t:Folder></t:SetFolderField>'));
    const returned = find(answer, 'FolderId')[0]!;
    assert.equal(attr(returned, 'Id'), id);
    assert.notEqual(attr(returned, 'ChangeKey'), before);
    assert.equal(find(await getFolder(id), 'DisplayName')[0]!.text, 'Hot leads');


    // What exchangelib sends on every folder save: the name, and a DeleteFolderField of the PermissionSet.
    ok(
      await setField(
        id,
        '<t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Warm leads</t:DisplayName></t:Folder></t:SetFolderField>' +
          '<t:DeleteFolderField><t:FieldURI FieldURI="folder:PermissionSet"/></t:DeleteFolderField>',
      ),
    );
    assert.equal(find(await getFolder(id), 'DisplayName')[0]!.text, 'Warm leads');
  });

  // The store refuses a second folder of the same name under one parent, as CreateFolder does (ErrorFolderExists).
  test('UpdateFolder: the name of a sibling is ErrorFolderExists; another folder type is ErrorObjectTypeChanged; read-only fields are refused', async () => {
    const first = await createFolder('Customers A', 'inbox', 'IPF.Note');
    await createFolder('Customers B');
    const clash = responseMessages((await setField(first, '<t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>customers b</t:DisplayName></t:Folder></t:SetFolderField>')).doc())[0]!;
    assert.equal(responseCode(clash), 'ErrorFolderExists');
    assert.ok(child(clash, M, 'Folders'), 'an error message still carries an empty Folders element');
    assert.equal(find(await getFolder(first), 'DisplayName')[0]!.text, 'Customers A');

    // responsecode.md (ErrorNoFolderClassOverride) and exchangelib's live test_create_update_empty_delete: a folder's
    // class cannot be changed, to another folder type or not.
    for (const folderClass of ['IPF.Appointment', 'IPF.Note.Leads']) {
      const typed = responseMessages((await setField(first, `<t:SetFolderField><t:FieldURI FieldURI="folder:FolderClass"/><t:Folder><t:FolderClass>${folderClass}</t:FolderClass></t:Folder></t:SetFolderField>`)).doc())[0]!;
      assert.equal(responseCode(typed), 'ErrorObjectTypeChanged', folderClass);
    }
    assert.equal(find(await getFolder(first), 'FolderClass')[0]!.text, 'IPF.Note');

    const readOnly = responseMessages((await setField(first, '<t:SetFolderField><t:FieldURI FieldURI="folder:TotalCount"/><t:Folder><t:TotalCount>4</t:TotalCount></t:Folder></t:SetFolderField>')).doc())[0]!;
    assert.equal(responseCode(readOnly), 'ErrorInvalidPropertySet');
    assert.equal(attr(find(readOnly, 'FieldURI')[0], 'FieldURI'), 'folder:TotalCount', 'MessageXml names the property');
    const append = responseMessages((await setField(first, '<t:AppendToFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>x</t:DisplayName></t:Folder></t:AppendToFolderField>')).doc())[0]!;
    assert.equal(responseCode(append), 'ErrorInvalidPropertyAppend');
  });

  test('EmptyFolder removes the items, and with DeleteSubFolders the subfolders; MoveToDeletedItems moves them', async () => {
    const folder = await createFolder('Newsletters');
    const path = 'Inbox/Newsletters';
    await deliver('news 1', path);
    await deliver('news 2', path);
    ok(await s.ews(`<m:CreateFolder><m:ParentFolderId><t:FolderId Id="${folder}"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Old</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>`, as));
    await deliver('old news', `${path}/Old`);

    ok(await s.ews(`<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="0"><m:FolderIds><t:FolderId Id="${folder}"/></m:FolderIds></m:EmptyFolder>`, as));
    assert.deepEqual(await items(path), []);
    assert.deepEqual((await items(`${path}/Old`)).map((i) => i.subject), ['old news'], 'DeleteSubFolders="0" (xs:boolean false) keeps the subfolders');

    ok(await s.ews(`<m:EmptyFolder DeleteType="MoveToDeletedItems" DeleteSubFolders="true"><m:FolderIds><t:FolderId Id="${folder}"/></m:FolderIds></m:EmptyFolder>`, as));
    const tree = await s.control<Array<{ path: string }>>('GET', `/mailboxes/${ALICE}/folders`);
    assert.ok(!tree.json.some((f) => f.path === `${path}/Old`), 'the subfolder left the folder');
    assert.ok(tree.json.some((f) => f.path === 'Deleted Items/Old'), 'MoveToDeletedItems moved it to Deleted Items');
    assert.deepEqual((await items('Deleted Items/Old')).map((i) => i.subject), ['old news']);

    const missing = await s.ews('<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="false"><m:FolderIds><t:FolderId Id="not-an-id"/></m:FolderIds></m:EmptyFolder>', as);
    assert.equal(responseCode(responseMessages(missing.doc())[0]!), 'ErrorInvalidIdMalformed', 'emptyfolder-operation.md, its error example');
  });

  // Every Exchange 2010+ mailbox has Recoverable Items (exchangelib looks soft-deleted items up in
  // recoverableitemsdeletions; ecederstrand/exchangelib issue #374 shows the GetFolder of it).
  test('SoftDelete moves an item to Recoverable Items\\Deletions, where FindItem finds it; deleting it there removes it', async () => {
    const itemId = await deliver('Soft one');
    ok(await s.ews(`<m:DeleteItem DeleteType="SoftDelete"><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:DeleteItem>`, as));
    const find1 = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="recoverableitemsdeletions"/></m:ParentFolderIds></m:FindItem>',
        as,
      ),
    );
    const subjects = find(find1, 'Subject').map((e) => e.text);
    assert.ok(subjects.includes('Soft one'), 'in the dumpster');
    assert.ok(!(await items('inbox')).some((i) => i.subject === 'Soft one'));
    const inDumpster = ids(find1)[subjects.indexOf('Soft one')]!;
    ok(await s.ews(`<m:DeleteItem DeleteType="SoftDelete"><m:ItemIds><t:ItemId Id="${inDumpster}"/></m:ItemIds></m:DeleteItem>`, as));
    const again = await s.ews(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="${inDumpster}"/></m:ItemIds></m:GetItem>`, as);
    assert.equal(responseCode(responseMessages(again.doc())[0]!), 'ErrorItemNotFound');
  });

  // A distinguished name the mailbox has no folder for: Exchange's ErrorInvalidOperation, "The distinguished folder
  // name is unrecognized." (a real answer pasted in a FindPeople client's source); exchangelib skips such folders.
  test('a distinguished folder the mailbox does not have is ErrorInvalidOperation', async () => {
    const answer = await s.ews(`<m:GetFolder>${folderShape}<m:FolderIds><t:DistinguishedFolderId Id="archiveinbox"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`, as);
    const [archive, inbox] = responseMessages(answer.doc());
    assert.equal(responseCode(archive!), 'ErrorInvalidOperation');
    assert.equal(child(archive!, M, 'MessageText')!.text, 'The distinguished folder name is unrecognized.');
    assert.equal(responseCode(inbox!), 'NoError');
  });

  // markasjunk-operation.md: IsJunk+MoveItem moves to Junk Email and answers MovedItemId; IsJunk=false moves back to the Inbox.
  test('MarkAsJunk moves to Junk Email and back to the Inbox, answering the moved item id', async () => {
    const itemId = await deliver('Cheap watches');
    const junk = ok(await s.ews(`<m:MarkAsJunk IsJunk="true" MoveItem="true"><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:MarkAsJunk>`, as));
    const moved = attr(child(junk, M, 'MovedItemId'), 'Id')!;
    assert.ok(moved && moved !== itemId, 'the moved item has a new id');
    assert.deepEqual((await items('junkemail')).map((i) => i.itemId), [moved]);

    const back = ok(await s.ews(`<m:MarkAsJunk IsJunk="0" MoveItem="1"><m:ItemIds><t:ItemId Id="${moved}"/></m:ItemIds></m:MarkAsJunk>`, as));
    const inInbox = attr(child(back, M, 'MovedItemId'), 'Id')!;
    assert.ok((await items('inbox')).some((i) => i.itemId === inInbox), 'IsJunk="0" MoveItem="1" (xs:boolean) moves it to the Inbox');

    const stay = ok(await s.ews(`<m:MarkAsJunk IsJunk="true" MoveItem="false"><m:ItemIds><t:ItemId Id="${inInbox}"/></m:ItemIds></m:MarkAsJunk>`, as));
    assert.equal(child(stay, M, 'MovedItemId'), undefined, 'nothing moved, no MovedItemId');
    assert.ok((await items('inbox')).some((i) => i.itemId === inInbox));

    const gone = await s.ews(`<m:MarkAsJunk IsJunk="true" MoveItem="true"><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:MarkAsJunk>`, as);
    const error = responseMessages(gone.doc())[0]!;
    assert.equal(responseCode(error), 'ErrorItemNotFound', 'markasjunk-operation.md, its error example');
    assert.equal(child(error, M, 'MessageText')!.text, 'The specified object was not found in the store.');
  });

  // archiveitem-operation.md: a user without an archive mailbox gets ErrorInvalidOperation with an empty Items.
  test('ArchiveItem: no archive mailbox is ErrorInvalidOperation, and the item stays', async () => {
    const itemId = await deliver('Keep me');
    const answer = await s.ews(
      `<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/></m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:ArchiveItem>`,
      as,
    );
    assert.equal(answer.status, 200);
    const message = responseMessages(answer.doc())[0]!;
    assert.equal(responseClass(message), 'Error');
    assert.equal(responseCode(message), 'ErrorInvalidOperation');
    assert.equal(child(message, M, 'MessageText')!.text, 'Archive mailbox is not enabled for this user.');
    assert.ok(child(message, M, 'Items'));
    assert.ok((await items('inbox')).some((i) => i.itemId === itemId));
  });

  // getservertimezones-operation.md (full and short answers); exchangelib's test_get_timezones_parsing fixture.
  test('GetServerTimeZones: every zone with periods and transitions, or the ones asked for, or names only', async () => {
    const all = ok(await s.ews('<m:GetServerTimeZones/>'));
    const zones = find(all, 'TimeZoneDefinition');
    assert.ok(zones.length >= 20);
    for (const id of ['UTC', 'W. Europe Standard Time', 'Eastern Standard Time', 'Pacific Standard Time', 'Tokyo Standard Time', 'India Standard Time']) {
      assert.ok(zones.some((z) => attr(z, 'Id') === id), id);
    }
    const europe = zones.find((z) => attr(z, 'Id') === 'W. Europe Standard Time')!;
    assert.equal(attr(europe, 'Name'), '(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna');
    assert.deepEqual(
      find(europe, 'Period').map((p) => [attr(p, 'Bias'), attr(p, 'Name'), attr(p, 'Id')]),
      [
        ['-PT1H', 'Standard', 'trule:Microsoft/Registry/W. Europe Standard Time/1-Standard'],
        ['-PT2H', 'Daylight', 'trule:Microsoft/Registry/W. Europe Standard Time/1-Daylight'],
      ],
    );
    const [toDaylight, toStandard] = find(europe, 'RecurringDayTransition');
    assert.deepEqual(toDaylight!.children.map((c) => c.text), ['trule:Microsoft/Registry/W. Europe Standard Time/1-Daylight', 'PT2H', '3', 'Sunday', '-1']);
    assert.deepEqual(toStandard!.children.map((c) => c.text), ['trule:Microsoft/Registry/W. Europe Standard Time/1-Standard', 'PT3H', '10', 'Sunday', '-1']);

    const eastern = ok(await s.ews('<m:GetServerTimeZones><m:Ids><t:Id>Eastern Standard Time</t:Id><t:Id>No Such Zone</t:Id></m:Ids></m:GetServerTimeZones>'));
    assert.deepEqual(find(eastern, 'TimeZoneDefinition').map((z) => attr(z, 'Id')), ['Eastern Standard Time']);
    assert.deepEqual(find(eastern, 'Period').map((p) => attr(p, 'Bias')), ['PT5H', 'PT4H', 'PT5H', 'PT4H'], 'the 2006 and 2007 rules, as the documentation shows');
    const absolute = find(eastern, 'AbsoluteDateTransition')[0]!;
    assert.equal(child(absolute, T, 'DateTime')!.text, '2007-01-01T00:00:00');
    assert.equal(find(eastern, 'TransitionsGroup').length, 2);

    const names = ok(await s.ews('<m:GetServerTimeZones ReturnFullTimeZoneData="false"><m:Ids><t:Id>India Standard Time</t:Id></m:Ids></m:GetServerTimeZones>'));
    const india = find(names, 'TimeZoneDefinition');
    assert.equal(india.length, 1);
    assert.equal(india[0]!.children.length, 0, 'names and ids only');
    const indiaFull = ok(await s.ews('<m:GetServerTimeZones ReturnFullTimeZoneData="1"><m:Ids><t:Id>India Standard Time</t:Id></m:Ids></m:GetServerTimeZones>'));
    assert.deepEqual(find(indiaFull, 'Period').map((p) => attr(p, 'Bias')), ['-PT5H30M']);
  });

  // expanddl-operation.md and exchangelib's test_expanddl fixture; the non-DL answer from the same page.
  test('ExpandDL lists a distribution list\'s members; a mailbox or an unknown address is ErrorNameResolutionNoResults', async () => {
    const answer = ok(await s.ews('<m:ExpandDL><m:Mailbox><t:EmailAddress>sales-team@contoso.test</t:EmailAddress></m:Mailbox></m:ExpandDL>'));
    const expansion = child(answer, M, 'DLExpansion')!;
    assert.equal(attr(expansion, 'TotalItemsInView'), '3');
    assert.equal(attr(expansion, 'IncludesLastItemInRange'), 'true');
    assert.deepEqual(find(expansion, 'EmailAddress').map((e) => e.text), ['alice@contoso.test', 'bob@contoso.test', 'sales@contoso.test']);
    assert.deepEqual(find(expansion, 'MailboxType').map((e) => e.text), ['Mailbox', 'Mailbox', 'Mailbox']);
    for (const address of ['alice@contoso.test', 'nobody@contoso.test']) {
      const refused = responseMessages((await s.ews(`<m:ExpandDL><m:Mailbox><t:EmailAddress>${address}</t:EmailAddress></m:Mailbox></m:ExpandDL>`)).doc())[0]!;
      assert.equal(responseCode(refused), 'ErrorNameResolutionNoResults', address);
    }
  });

  // resolvenames-operation.md: a distribution list resolves to a Mailbox of MailboxType PublicDL.
  test('ResolveNames finds the distribution list by its address or a name word', async () => {
    const resolve = async (entry: string) => responseMessages((await s.ews(`<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry>${entry}</m:UnresolvedEntry></m:ResolveNames>`, as)).doc())[0]!;
    const exact = await resolve('sales-team@contoso.test');
    assert.equal(responseClass(exact), 'Success');
    assert.deepEqual(find(exact, 'MailboxType').map((e) => e.text), ['PublicDL']);
    assert.deepEqual(find(exact, 'Name').map((e) => e.text), ['Sales Team']);
    const word = await resolve('team');
    assert.deepEqual(find(word, 'EmailAddress').map((e) => e.text), ['sales-team@contoso.test']);
    const both = await resolve('sales');
    assert.equal(responseCode(both), 'ErrorNameResolutionMultipleResults');
    assert.deepEqual(find(both, 'EmailAddress').map((e) => e.text), ['sales@contoso.test', 'sales-team@contoso.test']);
  });

  test('mail sent to the distribution list reaches its members', async () => {
    ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Team update</t:Subject><t:Body BodyType="Text">hi</t:Body>' +
          '<t:ToRecipients><t:Mailbox><t:EmailAddress>sales-team@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>',
        { as: 'carol@contoso.test' },
      ),
    );
    for (const member of ['alice', 'bob', 'sales']) {
      const inbox = await s.control<Array<{ subject: string }>>('GET', `/mailboxes/${member}@contoso.test/folders/inbox/items`);
      assert.ok(inbox.json.some((i) => i.subject === 'Team update'), member);
    }
    const outbound = await s.control<Array<{ recipients: string[] }>>('GET', '/outbound');
    assert.ok(!outbound.json.some((o) => o.recipients.includes('sales-team@contoso.test')), 'the list is not an outside address');
  });

  // getuseroofsettings-operation.md and setuseroofsettings-operation.md; messages.xsd: the answers are not arrays of messages.
  test('GetUserOofSettings answers a never-set mailbox as Exchange does; SetUserOofSettings changes what it answers', async () => {
    const get = async () => {
      const answer = await s.ews(`<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>${ALICE}</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>`, as);
      assert.equal(answer.status, 200);
      const root = body(answer.doc());
      assert.equal(root.local, 'GetUserOofSettingsResponse');
      assert.equal(attr(child(root, M, 'ResponseMessage'), 'ResponseClass'), 'Success');
      return root;
    };
    const first = await get();
    const settings = child(first, T, 'OofSettings')!;
    assert.equal(child(settings, T, 'OofState')!.text, 'Disabled');
    assert.equal(child(settings, T, 'ExternalAudience')!.text, 'All');
    assert.ok(child(child(settings, T, 'Duration'), T, 'StartTime'));
    assert.equal(child(first, M, 'AllowExternalOof')!.text, 'All');

    const set = await s.ews(
      `<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>${ALICE}</t:Address></t:Mailbox><t:UserOofSettings><t:OofState>Enabled</t:OofState>` +
        '<t:ExternalAudience>Known</t:ExternalAudience><t:Duration><t:StartTime>2026-12-01T00:00:00Z</t:StartTime><t:EndTime>2026-12-24T00:00:00Z</t:EndTime></t:Duration>' +
        '<t:InternalReply><t:Message>Back on Monday.</t:Message></t:InternalReply><t:ExternalReply><t:Message>I am away.</t:Message></t:ExternalReply></t:UserOofSettings></m:SetUserOofSettingsRequest>',
      as,
    );
    assert.equal(attr(child(body(set.doc()), M, 'ResponseMessage'), 'ResponseClass'), 'Success');
    const second = child(await get(), T, 'OofSettings')!;
    assert.equal(child(second, T, 'OofState')!.text, 'Enabled');
    assert.equal(child(second, T, 'ExternalAudience')!.text, 'Known');
    assert.equal(child(child(second, T, 'Duration'), T, 'EndTime')!.text, '2026-12-24T00:00:00Z');
    assert.equal(child(child(second, T, 'InternalReply'), T, 'Message')!.text, 'Back on Monday.');

    const other = await s.ews('<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>bob@contoso.test</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>', as);
    assert.equal(child(child(body(other.doc()), M, 'ResponseMessage'), M, 'ResponseCode')!.text, 'ErrorAccessDenied');
  });

  // exchangelib's test_mail_tips fixture for the answer's shape; responsecode/mailtips pages for the tips.
  test('GetMailTips: per recipient, the tips asked for; an unknown address of the organisation is an invalid recipient', async () => {
    const answer = await s.ews(
      '<m:GetMailTips><m:SendingAs><t:EmailAddress>bob@contoso.test</t:EmailAddress></m:SendingAs><m:Recipients>' +
        `<t:Mailbox><t:EmailAddress>${ALICE}</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>sales-team@contoso.test</t:EmailAddress></t:Mailbox>` +
        '<t:Mailbox><t:EmailAddress>nobody@contoso.test</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>jane.doe@fabrikam.test</t:EmailAddress></t:Mailbox>' +
        '</m:Recipients><m:MailTipsRequested>OutOfOfficeMessage TotalMemberCount ExternalMemberCount MaxMessageSize InvalidRecipient MailboxFullStatus</m:MailTipsRequested></m:GetMailTips>',
      { as: 'bob@contoso.test' },
    );
    assert.equal(answer.status, 200);
    const root = body(answer.doc());
    assert.equal(attr(root, 'ResponseClass'), 'Success');
    const tips = children(child(root, M, 'ResponseMessages'), M, 'MailTipsResponseMessageType').map((m) => child(m, M, 'MailTips')!);
    assert.equal(tips.length, 4);
    const value = (tip: XmlElement, name: string) => child(tip, T, name)?.text;
    const [alice, list, nobody, jane] = tips as [XmlElement, XmlElement, XmlElement, XmlElement];
    assert.equal(value(alice, 'InvalidRecipient'), 'false');
    assert.equal(value(alice, 'MailboxFull'), 'false');
    assert.equal(child(child(child(alice, T, 'OutOfOffice'), T, 'ReplyBody'), T, 'Message')!.text, 'Back on Monday.', 'Alice is out of office (set above)');
    assert.equal(value(list, 'TotalMemberCount'), '3');
    assert.equal(value(list, 'ExternalMemberCount'), '0');
    assert.equal(value(nobody, 'InvalidRecipient'), 'true');
    assert.equal(value(jane, 'InvalidRecipient'), 'false');
    assert.equal(value(jane, 'ExternalMemberCount'), '1');
    assert.equal(value(alice, 'MaxMessageSize'), String(10 * 1024 * 1024));
    assert.equal(value(alice, 'IsModerated'), undefined, 'not asked for, not answered');
  });

  test('GetUserConfiguration of a configuration the folder does not have is ErrorItemNotFound', async () => {
    const answer = await s.ews(
      '<m:GetUserConfiguration><m:UserConfigurationName Name="OWA.UserOptions"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName>' +
        '<m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>',
      as,
    );
    const message = responseMessages(answer.doc())[0]!;
    assert.equal(responseCode(message), 'ErrorItemNotFound');
    assert.equal(child(message, M, 'MessageText')!.text, 'The specified object was not found in the store.');
  });

  // An organisation without rooms or delegates: exchangelib issue #65 (GetRooms: ErrorNameResolutionNoResults).
  test('rooms and delegates: answered as for an organisation without them, never as a version problem', async () => {
    const lists = await s.ews('<m:GetRoomLists/>', as);
    assert.equal(lists.status, 200);
    assert.equal(attr(body(lists.doc()), 'ResponseClass'), 'Success');
    assert.equal(child(body(lists.doc()), M, 'RoomLists')!.children.length, 0);

    const rooms = await s.ews('<m:GetRooms><m:RoomList><t:EmailAddress>rooms@contoso.test</t:EmailAddress></m:RoomList></m:GetRooms>', as);
    assert.equal(rooms.status, 200);
    assert.equal(child(body(rooms.doc()), M, 'ResponseCode')!.text, 'ErrorNameResolutionNoResults');

    // exchangelib's live test_get_searchable_mailboxes: an account without the discovery role gets ErrorAccessDenied.
    const searchable = await s.ews('<m:GetSearchableMailboxes><m:SearchFilter>sales</m:SearchFilter></m:GetSearchableMailboxes>', as);
    assert.equal(searchable.status, 200);
    assert.equal(child(body(searchable.doc()), M, 'ResponseCode')!.text, 'ErrorAccessDenied');

    const delegates = await s.ews(`<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>${ALICE}</t:EmailAddress></m:Mailbox></m:GetDelegate>`, as);
    const root = body(delegates.doc());
    assert.equal(attr(root, 'ResponseClass'), 'Success');
    assert.equal(child(root, M, 'ResponseMessages'), undefined, 'no delegates');
    assert.equal(child(root, M, 'DeliverMeetingRequests')!.text, 'DelegatesAndMe');
  });

  // The FindPeople answer is a response message itself; "directory" is a name on-premises mailboxes lack (a real
  // answer: ErrorInvalidOperation, "The distinguished folder name is unrecognized.", with the counts).
  test('FindPeople: no contacts are stored, so nobody is found; the directory folder is unrecognized', async () => {
    const request = (parent: string) =>
      s.ews(
        `<m:FindPeople><m:IndexedPageItemView BasePoint="Beginning" Offset="0" MaxEntriesReturned="100"/>${parent}<m:QueryString>jane</m:QueryString></m:FindPeople>`,
        as,
      );
    const contacts = body((await request('<m:ParentFolderId><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderId>')).doc());
    assert.equal(contacts.local, 'FindPeopleResponse');
    assert.equal(attr(contacts, 'ResponseClass'), 'Success');
    assert.equal(child(contacts, M, 'People')!.children.length, 0);
    assert.equal(child(contacts, M, 'TotalNumberOfPeopleInView')!.text, '0');
    const directory = body((await request('<m:ParentFolderId><t:DistinguishedFolderId Id="directory"/></m:ParentFolderId>')).doc());
    assert.equal(attr(directory, 'ResponseClass'), 'Error');
    assert.equal(child(directory, M, 'ResponseCode')!.text, 'ErrorInvalidOperation');
    assert.equal(child(directory, M, 'MessageText')!.text, 'The distinguished folder name is unrecognized.');
    assert.equal(child(directory, M, 'TotalNumberOfPeopleInView')!.text, '0');
  });

  // getuseravailability-operation.md: the answer's shape, a Detailed view of another calendar granted as FreeBusy.
  test('GetUserAvailability: empty calendars are free all the time; an unknown address is ErrorMailRecipientNotFound', async () => {
    const answer = await s.ews(
      '<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>0</t:DayOrder><t:Month>0</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>' +
        '<t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>0</t:DayOrder><t:Month>0</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>' +
        '<m:MailboxDataArray>' +
        `<t:MailboxData><t:Email><t:Address>${ALICE}</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType></t:MailboxData>` +
        '<t:MailboxData><t:Email><t:Address>bob@contoso.test</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType></t:MailboxData>' +
        '<t:MailboxData><t:Email><t:Address>nobody@fabrikam.test</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType></t:MailboxData>' +
        '</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2026-12-07T00:00:00</t:StartTime><t:EndTime>2026-12-08T00:00:00</t:EndTime></t:TimeWindow>' +
        '<t:MergedFreeBusyIntervalInMinutes>60</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>DetailedMerged</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>',
      as,
    );
    assert.equal(answer.status, 200);
    const responses = children(child(body(answer.doc()), M, 'FreeBusyResponseArray'), M, 'FreeBusyResponse');
    assert.equal(responses.length, 3);
    const [alice, bob, nobody] = responses as [XmlElement, XmlElement, XmlElement];
    const view = (r: XmlElement) => child(r, M, 'FreeBusyView')!;
    assert.equal(child(view(alice), T, 'FreeBusyViewType')!.text, 'DetailedMerged', 'her own calendar, in full');
    assert.equal(child(view(alice), T, 'MergedFreeBusy')!.text, '0'.repeat(24), 'free for 24 hours of 60 minutes');
    assert.equal(child(view(bob), T, 'FreeBusyViewType')!.text, 'FreeBusyMerged', 'another calendar: free/busy only');
    assert.ok(find(view(bob), 'WorkingPeriod').length === 1);
    assert.equal(child(child(nobody, M, 'ResponseMessage'), M, 'ResponseCode')!.text, 'ErrorMailRecipientNotFound');
  });

  testTraffic(() => s.records, 30);
});
