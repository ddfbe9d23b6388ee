/**
 * Extended MAPI properties: set by CreateItem and UpdateItem, returned by GetItem, FindItem and SyncFolderItems
 * when asked for by ExtendedFieldURI (by tag, by property set and name, by property set and id; single values
 * and arrays), with the errors the EWS reference gives (ExtendedFieldURI; ResponseCode;
 * "EWS property-related errors").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const SET = 'c11ff724-aa03-4555-9952-8fa248a11c3e';

const BY_NAME = `<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="CrmActivityId" PropertyType="String"/>`;
const BY_GUID_NAME = `<t:ExtendedFieldURI PropertySetId="${SET}" PropertyName="Score" PropertyType="Integer"/>`;
const BY_ID = `<t:ExtendedFieldURI PropertySetId="${SET}" PropertyId="34049" PropertyType="Boolean"/>`;
const BY_TAG = '<t:ExtendedFieldURI PropertyTag="0x3FDE" PropertyType="Integer"/>';
const ARRAY = '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Tags" PropertyType="StringArray"/>';
const TIME = `<t:ExtendedFieldURI PropertySetId="${SET}" PropertyName="SyncedAt" PropertyType="SystemTime"/>`;

const property = (path: string, value: string) => `<t:ExtendedProperty>${path}<t:Value>${value}</t:Value></t:ExtendedProperty>`;
const shape = (base: string, paths: string) => `<m:ItemShape><t:BaseShape>${base}</t:BaseShape><t:AdditionalProperties>${paths}</t:AdditionalProperties></m:ItemShape>`;

/** The extended properties of a message, as name (or tag or id) → value(s). */
function extended(message: XmlElement): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const entry of find(message, 'ExtendedProperty')) {
    const path = find(entry, 'ExtendedFieldURI')[0]!;
    const name = attr(path, 'PropertyName') ?? attr(path, 'PropertyId') ?? attr(path, 'PropertyTag')!;
    const values = find(entry, 'Values')[0];
    result[name] = values ? find(values, 'Value').map((v) => v.text) : find(entry, 'Value')[0]!.text;
  }
  return result;
}

describe('sandbox EWS: extended properties', () => {
  let s: TestSandbox;
  let id = '';
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function get(paths: string, base = 'IdOnly'): Promise<XmlElement> {
    const answer = ok(await s.ews(`<m:GetItem>${shape(base, paths)}<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: BOB }));
    return find(answer, 'Message')[0]!;
  }

  test('CreateItem stores them; GetItem returns those asked for, in every form, and no others', async () => {
    const created = ok(
      await s.ews(
        '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Tracked</t:Subject>' +
          property(BY_NAME, 'ACT-0042') +
          property(BY_GUID_NAME, '+17') +
          property(BY_ID, '1') +
          property(BY_TAG, '7') +
          `<t:ExtendedProperty>${ARRAY}<t:Values><t:Value>a</t:Value><t:Value>b c</t:Value></t:Values></t:ExtendedProperty>` +
          property(TIME, '2030-01-02T03:04:05.000Z') +
          '</t:Message></m:Items></m:CreateItem>',
        { as: BOB },
      ),
    );
    id = ids(created)[0]!;
    const message = await get(BY_NAME + BY_GUID_NAME + BY_ID + BY_TAG + ARRAY + TIME);
    // Values come back as their type writes them: an integer without its sign, a boolean as true, a time to the second.
    assert.deepEqual(extended(message), { CrmActivityId: 'ACT-0042', Score: '17', '34049': 'true', '0x3FDE': '7', Tags: ['a', 'b c'], SyncedAt: '2030-01-02T03:04:05Z' });
    // The path comes back as it was asked.
    assert.equal(attr(find(message, 'ExtendedFieldURI')[0], 'DistinguishedPropertySetId'), 'PublicStrings');
    // AllProperties does not include extended properties: they are returned when asked for only.
    const all = ok(await s.ews(`<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: BOB }));
    assert.equal(find(all, 'ExtendedProperty').length, 0);
    // The same property by its set's GUID (PublicStrings is 00020329-0000-0000-C000-000000000046) is the same property.
    const byGuid = await get('<t:ExtendedFieldURI PropertySetId="00020329-0000-0000-C000-000000000046" PropertyName="CrmActivityId" PropertyType="String"/>');
    assert.deepEqual(extended(byGuid), { CrmActivityId: 'ACT-0042' });
    // One the message does not have is left out; so is one of another type.
    const absent = await get(
      '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Unknown" PropertyType="String"/>' +
        '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="CrmActivityId" PropertyType="Integer"/>',
    );
    assert.equal(find(absent, 'ExtendedProperty').length, 0);
  });

  test('well-known tags read the message (PidTagSubject 0x0037, PidTagMessageFlags 0x0E07)', async () => {
    const message = await get('<t:ExtendedFieldURI PropertyTag="0x0037" PropertyType="String"/><t:ExtendedFieldURI PropertyTag="0x0e07" PropertyType="Integer"/>');
    // A new draft is read (0x1), unmodified (0x2) and unsent (0x8).
    assert.deepEqual(extended(message), { '0x0037': 'Tracked', '0x0e07': String(0x1 | 0x2 | 0x8) });
  });

  test('FindItem and SyncFolderItems return them in their shapes', async () => {
    const found = ok(
      await s.ews(`<m:FindItem Traversal="Shallow">${shape('IdOnly', BY_NAME)}<m:ParentFolderIds><t:DistinguishedFolderId Id="drafts"/></m:ParentFolderIds></m:FindItem>`, { as: BOB }),
    );
    const message = find(found, 'Message').find((m) => attr(find(m, 'ItemId')[0], 'Id') === id)!;
    assert.deepEqual(extended(message), { CrmActivityId: 'ACT-0042' });
    const synced = ok(
      await s.ews(`<m:SyncFolderItems>${shape('IdOnly', ARRAY)}<m:SyncFolderId><t:DistinguishedFolderId Id="drafts"/></m:SyncFolderId><m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>`, {
        as: BOB,
      }),
    );
    const created = find(synced, 'Create').map((c) => find(c, 'Message')[0]!).find((m) => attr(find(m, 'ItemId')[0], 'Id') === id)!;
    assert.deepEqual(extended(created), { Tags: ['a', 'b c'] });
  });

  test('UpdateItem sets, replaces and deletes them; appending is ErrorInvalidPropertyAppend', async () => {
    const change = (updates: string) =>
      s.ews(`<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="${id}"/><t:Updates>${updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`, {
        as: BOB,
      });
    ok(
      await change(
        `<t:SetItemField>${BY_NAME}<t:Message>${property(BY_NAME, 'ACT-0043')}</t:Message></t:SetItemField>` +
          `<t:SetItemField><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="New" PropertyType="Double"/><t:Message>${property('<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="New" PropertyType="Double"/>', '2.5')}</t:Message></t:SetItemField>` +
          `<t:DeleteItemField>${ARRAY}</t:DeleteItemField>`,
      ),
    );
    const message = await get(BY_NAME + ARRAY + '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="New" PropertyType="Double"/>');
    assert.deepEqual(extended(message), { CrmActivityId: 'ACT-0043', New: '2.5' });
    const appended = responseMessages((await change(`<t:AppendToItemField>${BY_NAME}<t:Message>${property(BY_NAME, 'x')}</t:Message></t:AppendToItemField>`)).doc())[0]!;
    assert.equal(responseCode(appended), 'ErrorInvalidPropertyAppend');
    const mismatch = responseMessages((await change(`<t:SetItemField>${BY_NAME}<t:Message>${property(BY_TAG, '1')}</t:Message></t:SetItemField>`)).doc())[0]!;
    assert.equal(responseCode(mismatch), 'ErrorUpdatePropertyMismatch');
  });

  test('FindItem restrictions read them, by their type', async () => {
    const matching = async (restriction: string) => {
      const answer = ok(
        await s.ews(
          `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:Restriction>${restriction}</m:Restriction>` +
            '<m:ParentFolderIds><t:DistinguishedFolderId Id="drafts"/></m:ParentFolderIds></m:FindItem>',
          { as: BOB },
        ),
      );
      return ids(answer);
    };
    assert.deepEqual(await matching(`<t:IsEqualTo>${BY_NAME}<t:FieldURIOrConstant><t:Constant Value="ACT-0043"/></t:FieldURIOrConstant></t:IsEqualTo>`), [id]);
    assert.deepEqual(await matching(`<t:IsEqualTo>${BY_NAME}<t:FieldURIOrConstant><t:Constant Value="ACT-0042"/></t:FieldURIOrConstant></t:IsEqualTo>`), []);
    // 17 > 9 as numbers (as text "17" < "9").
    assert.deepEqual(await matching(`<t:IsGreaterThan>${BY_GUID_NAME}<t:FieldURIOrConstant><t:Constant Value="9"/></t:FieldURIOrConstant></t:IsGreaterThan>`), [id]);
    assert.deepEqual(await matching(`<t:Exists>${BY_TAG}</t:Exists>`), [id]);
    // Sorted by an extended property: a second draft with a lower score comes first in ascending order.
    const other = ids(
      ok(
        await s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Lower</t:Subject>${property(BY_GUID_NAME, '3')}</t:Message></m:Items></m:CreateItem>`, {
          as: BOB,
        }),
      ),
    )[0]!;
    const sorted = ok(
      await s.ews(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>' +
          `<m:SortOrder><t:FieldOrder Order="Ascending">${BY_GUID_NAME}</t:FieldOrder></m:SortOrder>` +
          '<m:ParentFolderIds><t:DistinguishedFolderId Id="drafts"/></m:ParentFolderIds></m:FindItem>',
        { as: BOB },
      ),
    );
    assert.deepEqual(ids(sorted), [other, id]);
    assert.deepEqual(await matching(`<t:Exists><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Unknown" PropertyType="String"/></t:Exists>`), []);
  });

  test('folders: the computed MAPI properties by tag (PidTagMessageSizeExtended 0x0E08, PidTagContentCount 0x3602)', async () => {
    // python exchangelib's suite (test_extended_properties) reads a folder's size this way and expects it above 0.
    const answer = ok(
      await s.ews(
        `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>` +
          '<t:ExtendedFieldURI PropertyTag="0x0e08" PropertyType="Long"/><t:ExtendedFieldURI PropertyTag="0x3602" PropertyType="Integer"/>' +
          '<t:ExtendedFieldURI PropertyTag="0x3613" PropertyType="String"/></t:AdditionalProperties></m:FolderShape>' +
          '<m:FolderIds><t:DistinguishedFolderId Id="drafts"/></m:FolderIds></m:GetFolder>',
        { as: BOB },
      ),
    );
    const folder = find(answer, 'Folder')[0]!;
    const values = extended(folder);
    assert.ok(Number(values['0x0e08']) > 0, 'the drafts take room');
    assert.equal(values['0x3602'], '2', 'two drafts');
    assert.equal(values['0x3613'], 'IPF.Note');
  });

  test('invalid paths and values get the reference\'s errors', async () => {
    const create = async (extendedProperty: string) =>
      responseCode(
        responseMessages(
          (await s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Bad</t:Subject>${extendedProperty}</t:Message></m:Items></m:CreateItem>`, { as: BOB })).doc(),
        )[0]!,
      );
    // Custom-range tags (0x8000 and above) must be named (ErrorNoPropertyTagForCustomProperties).
    assert.equal(await create(property('<t:ExtendedFieldURI PropertyTag="0x8001" PropertyType="String"/>', 'x')), 'ErrorNoPropertyTagForCustomProperties');
    // A tag with a property set, a name with an id, a name without a set: invalid combinations.
    assert.equal(await create(property('<t:ExtendedFieldURI PropertyTag="0x3FDE" PropertySetId="' + SET + '" PropertyType="Integer"/>', '1')), 'ErrorInvalidExtendedProperty');
    assert.equal(await create(property(`<t:ExtendedFieldURI PropertySetId="${SET}" PropertyName="a" PropertyId="1" PropertyType="Integer"/>`, '1')), 'ErrorInvalidExtendedProperty');
    assert.equal(await create(property('<t:ExtendedFieldURI PropertyName="a" PropertyType="Integer"/>', '1')), 'ErrorInvalidExtendedProperty');
    // A value its type cannot hold; a single value for an array type.
    assert.equal(await create(property(BY_GUID_NAME, 'twelve')), 'ErrorInvalidExtendedPropertyValue');
    assert.equal(await create(property(BY_GUID_NAME, '4294967296')), 'ErrorInvalidExtendedPropertyValue');
    assert.equal(await create(property(ARRAY, 'a')), 'ErrorInvalidExtendedPropertyValue');
    // Types that exist for reporting only.
    assert.equal(await create(property(`<t:ExtendedFieldURI PropertySetId="${SET}" PropertyName="o" PropertyType="Object"/>`, 'x')), 'ErrorUnsupportedMapiPropertyType');
    // In a shape, an invalid path is refused for the item.
    const asked = await s.ews(`<m:GetItem>${shape('IdOnly', '<t:ExtendedFieldURI PropertyTag="0x8001" PropertyType="String"/>')}<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`, { as: BOB });
    const message = responseMessages(asked.doc())[0]!;
    assert.equal(responseCode(message), 'ErrorNoPropertyTagForCustomProperties');
    assert.equal(attr(find(child(message, M, 'MessageXml')!, 'ExtendedFieldURI')[0], 'PropertyTag'), '0x8001');
  });

  testTraffic(() => s.records, 10);
});
