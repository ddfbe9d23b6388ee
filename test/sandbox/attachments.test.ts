/**
 * Attachments: file and item attachments kept by CreateItem and listed by GetItem, and GetAttachment,
 * CreateAttachment and DeleteAttachment (getattachment-operation.md, createattachment-operation.md,
 * deleteattachment-operation.md) with Exchange's errors (responsecode.md; exchangelib's live attachment tests
 * expect ErrorInvalidIdMalformed for a malformed id and ErrorItemNotFound for one whose item is gone).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, child, children, type XmlElement } from '../../src/xml/parse.js';
import { find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('sandbox EWS: attachments', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function draft(attachments: string): Promise<string> {
    const answer = await s.ews(
      `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>With attachments</t:Subject>` +
        `<t:Body BodyType="Text">See attached.</t:Body>${attachments ? `<t:Attachments>${attachments}</t:Attachments>` : ''}` +
        `<t:ToRecipients><t:Mailbox><t:EmailAddress>jane.doe@fabrikam.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>`,
      { as: ALICE },
    );
    return ids(ok(answer))[0]!;
  }

  async function getItem(id: string, mime = false): Promise<XmlElement> {
    const answer = await s.ews(
      `<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:IncludeMimeContent>${mime}</t:IncludeMimeContent></m:ItemShape>` +
        `<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`,
      { as: ALICE },
    );
    return child(child(ok(answer), M, 'Items'), T, 'Message')!;
  }

  const listed = (item: XmlElement) => children(child(item, T, 'Attachments'), T);
  const idOf = (attachment: XmlElement) => attr(child(attachment, T, 'AttachmentId'), 'Id')!;
  const text = (e: XmlElement | undefined, local: string) => (e ? (child(e, T, local)?.text ?? null) : null);

  function getAttachment(id: string, shape = '<m:AttachmentShape/>') {
    return s.ews(`<m:GetAttachment>${shape}<m:AttachmentIds><t:AttachmentId Id="${id}"/></m:AttachmentIds></m:GetAttachment>`, { as: ALICE });
  }

  const innerMessage =
    '<t:ItemAttachment><t:Name>Original request</t:Name><t:Message><t:Subject>Chairs wanted</t:Subject><t:Body BodyType="Text">We need 40 chairs.</t:Body>' +
    `<t:Attachments><t:FileAttachment><t:Name>list.txt</t:Name><t:Content>${b64('40 chairs')}</t:Content></t:FileAttachment></t:Attachments>` +
    '<t:From><t:Mailbox><t:Name>Jane Doe</t:Name><t:EmailAddress>jane.doe@fabrikam.test</t:EmailAddress></t:Mailbox></t:From></t:Message></t:ItemAttachment>';

  test('CreateItem returns the ids of the attachments it saved, and GetAttachment takes them', async () => {
    // exchangelib (Item.save) reads the attachment ids from CreateItem's answer; its live test_file_attachments
    // fetches one with GetAttachment right after saving.
    const answer = await s.ews(
      `<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Ids back</t:Subject><t:Attachments>` +
        `<t:FileAttachment><t:Name>a.txt</t:Name><t:Content>${b64('alpha')}</t:Content></t:FileAttachment>${innerMessage}` +
        `</t:Attachments></t:Message></m:Items></m:CreateItem>`,
      { as: ALICE },
    );
    const returned = children(child(child(child(ok(answer), M, 'Items'), T, 'Message'), T, 'Attachments'), T);
    assert.deepEqual(returned.map((a) => a.local), ['FileAttachment', 'ItemAttachment']);
    const content = find(ok(await getAttachment(idOf(returned[0]!))), 'Content')[0]!;
    assert.equal(Buffer.from(content.text, 'base64').toString(), 'alpha');
    assert.deepEqual(listed(await getItem(ids(ok(answer))[0]!)).map(idOf), returned.map(idOf));
  });

  test('CreateItem keeps item attachments next to file attachments; GetItem lists both; the MIME has a message/rfc822 part', async () => {
    const id = await draft(
      `<t:FileAttachment><t:Name>plan.pdf</t:Name><t:ContentType>application/pdf</t:ContentType><t:Content>${b64('%PDF plan')}</t:Content></t:FileAttachment>${innerMessage}`,
    );
    const item = await getItem(id, true);
    const [file, attached] = listed(item);
    assert.equal(file?.local, 'FileAttachment');
    assert.equal(text(file, 'Name'), 'plan.pdf');
    assert.equal(text(file, 'ContentType'), 'application/pdf');
    assert.equal(text(file, 'Size'), '9');
    assert.equal(text(file, 'IsInline'), 'false');
    assert.equal(attached?.local, 'ItemAttachment', 'an attached message is listed as an ItemAttachment (it was dropped before)');
    assert.equal(text(attached, 'Name'), 'Original request');
    assert.ok(text(attached, 'LastModifiedTime'));
    assert.equal(text(item, 'HasAttachments'), 'true');
    const mime = Buffer.from(text(item, 'MimeContent')!, 'base64').toString();
    assert.match(mime, /Content-Type: message\/rfc822/i);
    assert.match(mime, /Subject: Chairs wanted/);
  });

  test('GetAttachment: a file with its Content; an item with its properties and its own attachments, MIME on request', async () => {
    const id = await draft(`<t:FileAttachment><t:Name>a.txt</t:Name><t:Content>${b64('alpha')}</t:Content></t:FileAttachment>${innerMessage}`);
    const [file, attached] = listed(await getItem(id));

    const fileAnswer = child(ok(await getAttachment(idOf(file!))), M, 'Attachments')!;
    const got = child(fileAnswer, T, 'FileAttachment')!;
    assert.equal(idOf(got), idOf(file!));
    assert.equal(text(got, 'Name'), 'a.txt');
    assert.equal(Buffer.from(text(got, 'Content')!, 'base64').toString(), 'alpha');

    const itemAnswer = child(child(ok(await getAttachment(idOf(attached!))), M, 'Attachments'), T, 'ItemAttachment')!;
    const message = child(itemAnswer, T, 'Message')!;
    assert.equal(text(message, 'Subject'), 'Chairs wanted');
    assert.equal(text(message, 'Body'), 'We need 40 chairs.');
    assert.equal(child(message, T, 'ItemId'), undefined, 'an attached item is not an item of the store');
    assert.equal(child(message, T, 'MimeContent'), undefined, 'no MIME unless asked');
    const nested = child(child(message, T, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(text(nested, 'Name'), 'list.txt');
    const nestedContent = child(child(ok(await getAttachment(idOf(nested))), M, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(Buffer.from(text(nestedContent, 'Content')!, 'base64').toString(), '40 chairs');

    const withMime = find(ok(await getAttachment(idOf(attached!), '<m:AttachmentShape><t:IncludeMimeContent>1</t:IncludeMimeContent></m:AttachmentShape>')), 'MimeContent')[0]!;
    assert.match(Buffer.from(withMime.text, 'base64').toString(), /Subject: Chairs wanted/);
  });

  test('CreateAttachment adds to an item, one response each, with RootItemId and the new change key; ids stay stable', async () => {
    const id = await draft(`<t:FileAttachment><t:Name>first.txt</t:Name><t:Content>${b64('one')}</t:Content></t:FileAttachment>`);
    const before = await getItem(id);
    const firstId = idOf(listed(before)[0]!);
    const oldKey = attr(child(before, T, 'ItemId'), 'ChangeKey');

    const answer = await s.ews(
      `<m:CreateAttachment><m:ParentItemId Id="${id}" ChangeKey="${oldKey}"/><m:Attachments>` +
        `<t:FileAttachment><t:Name>second.txt</t:Name><t:Content>${b64('two')}</t:Content></t:FileAttachment>` +
        `<t:ItemAttachment><t:Name>note</t:Name><t:Message><t:Subject>A message to attach</t:Subject></t:Message></t:ItemAttachment>` +
        `</m:Attachments></m:CreateAttachment>`,
      { as: ALICE },
    );
    const messages = responseMessages(answer.doc());
    assert.deepEqual(messages.map(responseClass), ['Success', 'Success'], answer.text);
    const created = messages.map((m) => children(child(m, M, 'Attachments'), T)[0]!);
    assert.deepEqual(created.map((c) => c.local), ['FileAttachment', 'ItemAttachment']);
    const last = child(created[1]!, T, 'AttachmentId')!;
    assert.equal(attr(last, 'RootItemId'), id);

    const after = await getItem(id);
    const newKey = attr(child(after, T, 'ItemId'), 'ChangeKey');
    assert.notEqual(newKey, oldKey, 'the parent item changed');
    assert.equal(attr(last, 'RootItemChangeKey'), newKey, 'the last response carries the item’s current change key');
    assert.deepEqual(listed(after).map(idOf), [firstId, attr(child(created[0]!, T, 'AttachmentId'), 'Id'), attr(last, 'Id')]);
    const second = child(child(ok(await getAttachment(attr(child(created[0]!, T, 'AttachmentId'), 'Id')!)), M, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(Buffer.from(text(second, 'Content')!, 'base64').toString(), 'two');
  });

  test('empty files attached one by one are each their own attachment (exchangelib test_detach_all attaches six)', async () => {
    const id = await draft('');
    const added: string[] = [];
    for (let n = 0; n < 3; n += 1) {
      const answer = ok(
        await s.ews(
          `<m:CreateAttachment><m:ParentItemId Id="${id}"/><m:Attachments><t:FileAttachment><t:Name>empty_file.txt</t:Name><t:Content></t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>`,
          { as: ALICE },
        ),
      );
      added.push(attr(find(answer, 'AttachmentId')[0], 'Id')!);
    }
    assert.equal(new Set(added).size, 3);
    const listedNow = listed(await getItem(id));
    assert.deepEqual(listedNow.map(idOf), added);
    assert.deepEqual(listedNow.map((a) => text(a, 'Size')), ['0', '0', '0']);
    const content = child(child(ok(await getAttachment(added[1]!)), M, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(text(content, 'Content'), '', 'an empty Content');
  });

  test('SendItem after CreateAttachment wants the new change key: the old one is ErrorIrresolvableConflict', async () => {
    // Garethp/php-ews#88: SendItem with the change key from before CreateAttachment gets this from Exchange;
    // createattachment-operation.md: the last response's RootItemChangeKey is the item's new one.
    const id = await draft('');
    const oldKey = attr(child(await getItem(id), T, 'ItemId'), 'ChangeKey');
    const created = ok(
      await s.ews(
        `<m:CreateAttachment><m:ParentItemId Id="${id}" ChangeKey="${oldKey}"/><m:Attachments><t:FileAttachment><t:Name>late.txt</t:Name><t:Content>${b64('late')}</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>`,
        { as: ALICE },
      ),
    );
    const newKey = attr(find(created, 'AttachmentId')[0], 'RootItemChangeKey');
    const send = (key: string | undefined) =>
      s.ews(`<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="${id}" ChangeKey="${key}"/></m:ItemIds></m:SendItem>`, { as: ALICE });
    const stale = responseMessages((await send(oldKey)).doc())[0]!;
    assert.equal(responseCode(stale), 'ErrorIrresolvableConflict');
    ok(await send(newKey));
    const outbound = (await s.control<Array<{ subject: string }>>('GET', '/outbound')).json;
    assert.equal(outbound.at(-1)!.subject, 'With attachments');
  });

  test('DeleteAttachment returns RootItemId; the others keep their ids and content; the deleted id is ErrorInvalidAttachmentId', async () => {
    const id = await draft(
      ['x', 'y', 'z'].map((n) => `<t:FileAttachment><t:Name>${n}.txt</t:Name><t:Content>${b64(`content ${n}`)}</t:Content></t:FileAttachment>`).join(''),
    );
    const [x, y, z] = listed(await getItem(id)).map(idOf);
    const answer = ok(await s.ews(`<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="${y}"/></m:AttachmentIds></m:DeleteAttachment>`, { as: ALICE }));
    const root = child(answer, M, 'RootItemId')!;
    assert.equal(attr(root, 'RootItemId'), id);
    const after = await getItem(id);
    assert.equal(attr(root, 'RootItemChangeKey'), attr(child(after, T, 'ItemId'), 'ChangeKey'));
    assert.deepEqual(listed(after).map(idOf), [x, z]);
    const zContent = child(child(ok(await getAttachment(z!)), M, 'Attachments'), T, 'FileAttachment')!;
    assert.equal(Buffer.from(text(zContent, 'Content')!, 'base64').toString(), 'content z');

    const deleted = responseMessages((await getAttachment(y!)).doc())[0]!;
    assert.equal(responseCode(deleted), 'ErrorInvalidAttachmentId');
    const again = responseMessages((await s.ews(`<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="${y}"/></m:AttachmentIds></m:DeleteAttachment>`, { as: ALICE })).doc())[0]!;
    assert.equal(responseCode(again), 'ErrorInvalidAttachmentId');
  });

  test('DeleteAttachment of a message that is only its attachment leaves it with an empty body', async () => {
    const mime = [
      'From: jane.doe@fabrikam.test',
      `To: ${ALICE}`,
      'Subject: Just the file',
      'MIME-Version: 1.0',
      'Content-Type: application/pdf; name="scan.pdf"',
      'Content-Disposition: attachment; filename="scan.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      b64('%PDF scan'),
      '',
    ].join('\r\n');
    const id = (await s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { mime })).json.itemId;
    const [scan] = listed(await getItem(id));
    assert.equal(text(scan, 'Name'), 'scan.pdf');
    ok(await s.ews(`<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="${idOf(scan!)}"/></m:AttachmentIds></m:DeleteAttachment>`, { as: ALICE }));
    const after = await getItem(id, true);
    assert.equal(listed(after).length, 0);
    assert.equal(text(after, 'Subject'), 'Just the file');
    assert.doesNotMatch(Buffer.from(text(after, 'MimeContent')!, 'base64').toString(), /application\/pdf/);
  });

  test('an inline attachment keeps its ContentId and IsInline, and does not count for HasAttachments', async () => {
    const id = await draft(`<t:FileAttachment><t:Name>logo.png</t:Name><t:ContentType>image/png</t:ContentType><t:ContentId>logo@contoso</t:ContentId><t:IsInline>true</t:IsInline><t:Content>${b64('PNG')}</t:Content></t:FileAttachment>`);
    const item = await getItem(id);
    const [logo] = listed(item);
    assert.equal(text(logo, 'ContentId'), 'logo@contoso');
    assert.equal(text(logo, 'IsInline'), 'true');
    assert.equal(text(item, 'HasAttachments'), 'false');
  });

  test('errors: malformed id, gone item, missing name, item attachment without an item', async () => {
    assert.equal(responseCode(responseMessages((await getAttachment('AAMk=')).doc())[0]!), 'ErrorInvalidIdMalformed');
    // exchangelib's tests/test_attachments.py (test_streaming_file_attachment_error): an id of Exchange's shape that
    // names nothing here is ErrorItemNotFound.
    const foreign =
      'AAMkADQyYzZmYmUxLTJiYjItNDg2Ny1iMzNjLTIzYWE1NDgxNmZhNABGAAAAAADUebQDarW2Q7G2Ji8hKofPBwAl9iKCsfCfS' +
      'a9cmjh+JCrCAAPJcuhjAABioKiOUTCQRI6Q5sRzi0pJAAHnDV3CAAABEgAQAN0zlxDrzlxAteU+kt84qOM=';
    assert.equal(responseCode(responseMessages((await getAttachment(foreign)).doc())[0]!), 'ErrorItemNotFound');

    const id = await draft(`<t:FileAttachment><t:Name>a.txt</t:Name><t:Content>${b64('a')}</t:Content></t:FileAttachment>`);
    const attachmentId = idOf(listed(await getItem(id))[0]!);
    ok(await s.ews(`<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:DeleteItem>`, { as: ALICE }));
    assert.equal(responseCode(responseMessages((await getAttachment(attachmentId)).doc())[0]!), 'ErrorItemNotFound');

    const parent = await draft('');
    const create = (attachment: string) =>
      s.ews(`<m:CreateAttachment><m:ParentItemId Id="${parent}"/><m:Attachments>${attachment}</m:Attachments></m:CreateAttachment>`, { as: ALICE });
    const nameless = responseMessages((await create(`<t:FileAttachment><t:Content>${b64('a')}</t:Content></t:FileAttachment>`)).doc())[0]!;
    assert.equal(responseCode(nameless), 'ErrorRequiredPropertyMissing');
    assert.equal(attr(find(nameless, 'ExceptionFieldURI')[0], 'FieldURI'), 'attachment:Name');
    const empty = responseMessages((await create('<t:ItemAttachment><t:Name>nothing</t:Name></t:ItemAttachment>')).doc())[0]!;
    assert.equal(responseCode(empty), 'ErrorMissingItemForCreateItemAttachment');
    assert.equal(listed(await getItem(parent)).length, 0, 'nothing was added');
  });

  test('item attachments nest up to 10 levels; more is ErrorAttachmentNestLevelLimitExceeded (responsecode.md)', async () => {
    const nested = (levels: number): string =>
      levels === 0 ? '' : `<t:ItemAttachment><t:Name>level ${levels}</t:Name><t:Message><t:Subject>level ${levels}</t:Subject>${levels > 1 ? `<t:Attachments>${nested(levels - 1)}</t:Attachments>` : ''}</t:Message></t:ItemAttachment>`;
    const create = (levels: number) =>
      s.ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Deep</t:Subject><t:Attachments>${nested(levels)}</t:Attachments></t:Message></m:Items></m:CreateItem>`, { as: ALICE });
    const ten = ids(ok(await create(10)))[0]!;
    let attachment = listed(await getItem(ten))[0]!;
    for (let level = 10; level > 1; level -= 1) {
      const message = child(child(child(ok(await getAttachment(idOf(attachment))), M, 'Attachments'), T, 'ItemAttachment'), T, 'Message')!;
      assert.equal(text(message, 'Subject'), `level ${level}`);
      attachment = children(child(message, T, 'Attachments'), T)[0]!;
    }
    assert.equal(text(attachment, 'Name'), 'level 1', 'the innermost attachment is reached through every level');
    assert.equal(responseCode(responseMessages((await create(11)).doc())[0]!), 'ErrorAttachmentNestLevelLimitExceeded');
  });

  testTraffic(() => s.records, 20);
});
