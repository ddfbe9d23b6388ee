/**
 * The folder tree of a sandbox mailbox is a real Exchange mailbox's: the root's system folders, the IPM subtree
 * under Top of Information Store, each folder with the class Exchange gives it (or none) and written as the folder
 * element its class calls for. Sources: the Exchange 2013/2016 root listed in ecederstrand/exchangelib issue #433
 * ("Delegate: root.tree vs. msg_folder_root.tree"), exchangelib's known_folders.py and its live test suite
 * (tests/test_folder.py, test_folder_grouping, run against a real Exchange) for the classes, and the
 * FindFolder example of how-to-work-with-folders-by-using-ews-in-exchange.md (CalendarFolder, ContactsFolder).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ExchangeRecord } from '../../src/sandbox/runtime.js';
import { attr, child, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const shape =
  '<m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/>' +
  '<t:FieldURI FieldURI="folder:FolderClass"/><t:FieldURI FieldURI="folder:DistinguishedFolderId"/><t:FieldURI FieldURI="folder:ParentFolderId"/>' +
  '</t:AdditionalProperties></m:FolderShape>';

interface Listed {
  element: string;
  name: string;
  folderClass: string | null;
  distinguished: string | null;
  parent: string;
  id: string;
}

function listed(folders: XmlElement[]): Listed[] {
  return folders.map((f) => ({
    element: f.local,
    name: child(f, T, 'DisplayName')?.text ?? '',
    folderClass: child(f, T, 'FolderClass')?.text ?? null,
    distinguished: child(f, T, 'DistinguishedFolderId')?.text ?? null,
    parent: attr(child(f, T, 'ParentFolderId'), 'Id') ?? '',
    id: attr(child(f, T, 'FolderId'), 'Id') ?? '',
  }));
}

async function deepTree(s: TestSandbox, parent: string): Promise<Listed[]> {
  const answer = ok(
    await s.ews(`<m:FindFolder Traversal="Deep">${shape}<m:ParentFolderIds><t:DistinguishedFolderId Id="${parent}"/></m:ParentFolderIds></m:FindFolder>`, { as: ALICE }),
  );
  return listed(child(child(answer, M, 'RootFolder')!, T, 'Folders')!.children);
}

describe('sandbox EWS: the folder tree of a real mailbox', () => {
  let s: TestSandbox;
  const records: ExchangeRecord[] = [];
  before(async () => {
    s = await startTestSandbox({ onExchange: (r) => records.push(r) });
  });
  after(async () => {
    await s?.close();
  });

  test('the root holds the system folders, without a folder class where Exchange has none', async () => {
    const tree = await deepTree(s, 'root');
    const rootId = ids(ok(await s.ews(`<m:GetFolder>${shape}<m:FolderIds><t:DistinguishedFolderId Id="root"/></m:FolderIds></m:GetFolder>`, { as: ALICE })), 'FolderId')[0]!;
    const top = tree.filter((f) => f.parent === rootId);
    const names = top.map((f) => f.name).sort();
    for (const name of ['AllItems', 'Common Views', 'Deferred Action', 'ExchangeSyncData', 'Finder', 'Freebusy Data', 'Recoverable Items', 'Schedule', 'Sharing', 'Shortcuts', 'Spooler Queue', 'System', 'Top of Information Store', 'Transport Queue', 'Views']) {
      assert.ok(names.includes(name), `${name} is under the root`);
    }
    const byName = new Map(top.map((f) => [f.name, f]));
    for (const name of ['Common Views', 'Deferred Action', 'ExchangeSyncData', 'Freebusy Data', 'Schedule', 'Shortcuts', 'Spooler Queue', 'System', 'Views', 'Finder', 'Recoverable Items']) {
      assert.equal(byName.get(name)!.folderClass, null, `${name} has no FolderClass`);
    }
    assert.equal(byName.get('AllItems')!.folderClass, 'IPF');
    assert.equal(byName.get('Sharing')!.folderClass, 'IPF.Note');
    const recoverable = byName.get('Recoverable Items')!;
    assert.equal(recoverable.distinguished, 'recoverableitemsroot');
    assert.deepEqual(
      tree.filter((f) => f.parent === recoverable.id).map((f) => [f.name, f.distinguished]),
      [
        ['Deletions', 'recoverableitemsdeletions'],
        ['Purges', 'recoverableitemspurges'],
        ['Versions', 'recoverableitemsversions'],
      ],
    );
  });

  test('the IPM subtree: each folder with its class, written as the element its class calls for', async () => {
    const tree = await deepTree(s, 'msgfolderroot');
    const byName = new Map(tree.map((f) => [f.name, f]));
    const expected: Array<[string, string, string]> = [
      ['Inbox', 'IPF.Note', 'Folder'],
      ['Calendar', 'IPF.Appointment', 'CalendarFolder'],
      ['Contacts', 'IPF.Contact', 'ContactsFolder'],
      ['Recipient Cache', 'IPF.Contact.RecipientCache', 'ContactsFolder'],
      ['Suggested Contacts', 'IPF.Contact', 'ContactsFolder'],
      ['Tasks', 'IPF.Task', 'TasksFolder'],
      ['Notes', 'IPF.StickyNote', 'Folder'],
      ['Journal', 'IPF.Journal', 'Folder'],
      ['Conversation Action Settings', 'IPF.Configuration', 'Folder'],
      ['Quick Step Settings', 'IPF.Configuration', 'Folder'],
      ['Sync Issues', 'IPF.Note', 'Folder'],
    ];
    for (const [name, folderClass, element] of expected) {
      const folder = byName.get(name);
      assert.ok(folder, `${name} is in the IPM subtree`);
      assert.equal(folder.folderClass, folderClass, `${name}'s class`);
      assert.equal(folder.element, element, `${name} is a t:${element}`);
    }
    // exchangelib's live test_folder_grouping: these three have no class (or IPF), Sync Issues is IPF.Note.
    for (const name of ['Conflicts', 'Local Failures', 'Server Failures']) assert.equal(byName.get(name)!.folderClass, null, name);
    const syncIssues = byName.get('Sync Issues')!;
    assert.equal(syncIssues.distinguished, 'syncissues');
    assert.deepEqual(
      tree.filter((f) => f.parent === syncIssues.id).map((f) => f.distinguished),
      ['conflicts', 'localfailures', 'serverfailures'],
    );
  });

  test('a calendar or contacts folder carries no UnreadCount (CalendarFolderType and ContactsFolderType have none)', async () => {
    const reply = await s.ews(
      '<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/>' +
        '<t:DistinguishedFolderId Id="contacts"/><t:DistinguishedFolderId Id="syncissues"/></m:FolderIds></m:GetFolder>',
      { as: ALICE },
    );
    ok(reply);
    const answer = reply.doc();
    assert.equal(find(answer, 'CalendarFolder').length, 1);
    assert.equal(find(answer, 'ContactsFolder').length, 1);
    assert.equal(find(find(answer, 'CalendarFolder')[0]!, 'UnreadCount').length, 0);
    assert.equal(find(find(answer, 'ContactsFolder')[0]!, 'UnreadCount').length, 0);
    assert.equal(find(answer, 'UnreadCount').length, 1, 'Sync Issues, a message folder, has one');
  });

  // exchangelib's live test_non_deletable_folders: Exchange refuses to delete these (it accepts
  // ErrorDeleteDistinguishedFolder, ErrorCannotDeleteObject or ErrorItemNotFound).
  test('the system folders cannot be deleted', async () => {
    const tree = await deepTree(s, 'root');
    for (const name of ['Common Views', 'Quick Step Settings']) {
      const id = tree.find((f) => f.name === name)!.id;
      for (const type of ['HardDelete', 'MoveToDeletedItems']) {
        const answer = await s.ews(`<m:DeleteFolder DeleteType="${type}"><m:FolderIds><t:FolderId Id="${id}"/></m:FolderIds></m:DeleteFolder>`, { as: ALICE });
        assert.equal(responseCode(responseMessages(answer.doc())[0]!), 'ErrorCannotDeleteObject', `${name} ${type}`);
      }
    }
    assert.equal((await deepTree(s, 'root')).filter((f) => f.name === 'Common Views').length, 1);
  });

  testTraffic(() => records, 4);
});

describe('sandbox state: a data folder saved before the full tree existed', () => {
  test('loads, keeps its folder ids, and gains the folders it lacked', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'liaison-folder-tree-'));
    try {
      const first = await startTestSandbox({ dataDir });
      const inboxBefore = ids(ok(await first.ews(`<m:GetFolder>${shape}<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`, { as: ALICE })), 'FolderId')[0];
      await first.close();

      // Make the state file look like one written before the tree had the system folders.
      const file = path.join(dataDir, 'state.json');
      const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { mailboxes: Array<{ folders: Array<{ displayName: string; distinguishedId: string | null }> }> };
      const original = new Set(['root', 'msgfolderroot', 'inbox', 'drafts', 'sentitems', 'deleteditems', 'outbox', 'junkemail', 'calendar', 'contacts', 'tasks', 'notes', 'journal', 'conversationhistory', 'searchfolders']);
      for (const mailbox of snapshot.mailboxes) {
        mailbox.folders = mailbox.folders.filter((f) => (f.distinguishedId ? original.has(f.distinguishedId) : !['Common Views', 'Sharing', 'Quick Step Settings', 'AllItems'].includes(f.displayName)));
        mailbox.folders = mailbox.folders.filter((f) => !['Deletions', 'Purges', 'Versions', 'Conflicts', 'Local Failures', 'Server Failures'].includes(f.displayName) || f.distinguishedId);
      }
      writeFileSync(file, JSON.stringify(snapshot));
      assert.ok(!readFileSync(file, 'utf8').includes('"syncissues"'), 'the old state has no Sync Issues');

      const second = await startTestSandbox({ dataDir });
      try {
        const reply = await second.ews(
          `<m:GetFolder>${shape}<m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="syncissues"/><t:DistinguishedFolderId Id="recoverableitemsroot"/></m:FolderIds></m:GetFolder>`,
          { as: ALICE },
        );
        ok(reply);
        const answer = reply.doc();
        assert.equal(ids(answer, 'FolderId')[0], inboxBefore, 'the Inbox keeps its id');
        assert.deepEqual(find(answer, 'DisplayName').map((d) => d.text), ['Inbox', 'Sync Issues', 'Recoverable Items']);
        const tree = await deepTree(second, 'root');
        assert.equal(tree.filter((f) => f.name === 'Common Views').length, 1);
        assert.equal(tree.filter((f) => f.name === 'Conflicts').length, 1);
        assert.equal(tree.filter((f) => f.name === 'Projects').length, 0, 'Alice has no Projects folder (Carol does)');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
