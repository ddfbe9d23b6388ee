/**
 * Asking a mail folder for the properties of every item class it can hold (as python exchangelib does by
 * default: Message, MeetingRequest, MeetingResponse, MeetingCancellation in one shape) returns the messages and
 * leaves out what does not apply to them, as Exchange 2010 and later do. Exchange 2007, and a request in its
 * version, refused them with ErrorInvalidPropertyRequest: the documented GetItem example (Exchange 8.0,
 * getitem-operation-email-message), python exchangelib issues 100 and 909, thunderbird/ews-rs issue 41 ("... is
 * not valid for this object type. The Current ExchangeVersion is Exchange2007.").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child } from '../../src/xml/parse.js';
import { find, ok, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';

/** Properties of the other item classes a mail folder holds (meeting messages), and of contacts, tasks and posts. */
const FOREIGN = [
  'calendar:Start',
  'calendar:End',
  'calendar:Location',
  'calendar:UID',
  'meeting:AssociatedCalendarItemId',
  'meeting:IsOutOfDate',
  'meeting:ResponseType',
  'meetingRequest:MeetingRequestType',
  'meetingRequest:IntendedFreeBusyStatus',
  'contacts:DisplayName',
  'task:DueDate',
  'postitem:PostedTime',
];

const shape = (base: string, uris: string[]) =>
  `<m:ItemShape><t:BaseShape>${base}</t:BaseShape><t:AdditionalProperties>${uris.map((u) => `<t:FieldURI FieldURI="${u}"/>`).join('')}</t:AdditionalProperties></m:ItemShape>`;

describe('sandbox EWS: properties of other item types', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const findItem = (uris: string[], version?: string) =>
    s.ews(`<m:FindItem Traversal="Shallow">${shape('Default', uris)}<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>`, {
      as: ALICE,
      ...(version ? { version } : {}),
    });

  test('FindItem and GetItem with every item class\'s properties return the messages without them', async () => {
    const found = ok(await findItem(['message:IsRead', 'item:Subject', ...FOREIGN]));
    const messages = find(found, 'Message');
    assert.ok(messages.length > 0);
    for (const message of messages) {
      assert.ok(child(message, T, 'Subject'));
      assert.ok(child(message, T, 'IsRead'));
      for (const name of ['Start', 'End', 'Location', 'UID', 'AssociatedCalendarItemId', 'MeetingRequestType', 'DisplayName', 'DueDate', 'PostedTime']) {
        assert.equal(child(message, T, name), undefined, `${name} left out`);
      }
    }
    const id = attr(child(messages[0]!, T, 'ItemId'), 'Id')!;
    const got = ok(await s.ews(`<m:GetItem>${shape('AllProperties', FOREIGN)}<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: ALICE }));
    assert.equal(find(got, 'Message').length, 1);
    assert.equal(find(got, 'Start').length, 0);
  });

  for (const version of ['Exchange2007_SP1', 'Exchange2007']) {
    test(`a request in ${version} is refused as Exchange 2007 refused it`, async () => {
      const message = responseMessages((await findItem(['item:Subject', 'meeting:AssociatedCalendarItemId'], version)).doc())[0]!;
      assert.equal(responseCode(message), 'ErrorInvalidPropertyRequest');
      assert.equal(attr(find(message, 'FieldURI')[0], 'FieldURI'), 'meeting:AssociatedCalendarItemId');
    });
  }

  test('FindItem leaves out the body and the recipient lists it is asked for, and refuses MIME and attachments', async () => {
    // EWS reference, FindItem: it "does not return any of the message body formats or the recipient lists";
    // python exchangelib's suite asks FindItem for item:Body (test_text_field_settings) and passes against Exchange.
    const found = ok(await findItem(['item:Body', 'message:ToRecipients', 'message:CcRecipients', 'item:Subject', ...FOREIGN]));
    const messages = find(found, 'Message');
    assert.ok(messages.length > 0);
    assert.equal(find(found, 'Body').length, 0);
    assert.equal(find(found, 'ToRecipients').length, 0);
    assert.ok(messages.every((m) => child(m, T, 'Subject')));
    for (const uri of ['item:MimeContent', 'item:Attachments']) {
      const refused = responseMessages((await findItem([uri])).doc())[0]!;
      // "Property is not valid for this operation." (WinRb/Viewpoint#191, Garethp/php-ews#149: FindItem with MimeContent).
      assert.equal(responseCode(refused), 'ErrorInvalidPropertyForOperation');
      assert.equal(attr(find(refused, 'FieldURI')[0], 'FieldURI'), uri);
    }
  });

  testTraffic(() => s.records, 4);
});
