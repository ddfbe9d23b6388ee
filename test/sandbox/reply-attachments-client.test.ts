/**
 * Replies, forwards and attachments driven by an EWS client the sandbox was not written with:
 * ews-javascript-api, a port of Microsoft's EWS Managed API, whose EmailMessage.Reply/CreateReply/Forward and
 * AttachmentCollection send the requests the documentation shows (how-to-respond-to-email-messages-by-using-ews-
 * in-exchange.md, how-to-add-attachments-by-using-ews-in-exchange.md) and read the answers as they come from
 * Exchange.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { XhrApi } from '@ewsjs/xhr';
import type { FileAttachment, Item } from 'ews-javascript-api';
import {
  BasePropertySet,
  ConfigurationApi,
  ConnectingIdType,
  EmailAddress,
  EmailMessage,
  EmailMessageSchema,
  ExchangeService,
  ExchangeVersion,
  ImpersonatedUserId,
  ItemAttachment,
  ItemId,
  ItemSchema,
  MessageBody,
  PropertySet,
  Uri,
  WebCredentials,
  WellKnownFolderName,
} from 'ews-javascript-api';
import { loopbackLookup, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const CAROL = 'carol@contoso.test';

interface ControlItem {
  itemId: string;
  subject: string;
}

describe('an independent EWS client (ews-javascript-api): replies, forwards, attachments', () => {
  let s: TestSandbox;
  let agent: https.Agent;

  before(async () => {
    s = await startTestSandbox();
    agent = new https.Agent({ ca: s.sandbox.pki.caCertPem, lookup: loopbackLookup, keepAlive: false });
    ConfigurationApi.ConfigureXHR(new XhrApi({ httpsAgent: agent, proxy: false }));
  });
  after(async () => {
    agent?.destroy();
    await s?.close();
  });

  function connect(address: string): ExchangeService {
    const service = new ExchangeService(ExchangeVersion.Exchange2016);
    service.Credentials = new WebCredentials(s.info.serviceAccount!.username, s.password);
    service.Url = new Uri(address === 'dave@contoso.test' ? s.info.ews2 : s.info.ews);
    service.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, address);
    return service;
  }

  async function items(address: string, folder: string): Promise<ControlItem[]> {
    return (await s.control<ControlItem[]>('GET', `/mailboxes/${address}/folders/${folder}/items`)).json;
  }

  const threading = new PropertySet(BasePropertySet.FirstClassProperties, [ItemSchema.InReplyTo, EmailMessageSchema.References, ItemSchema.ConversationId, EmailMessageSchema.InternetMessageId]);

  test('Reply, CreateReply(replyAll).Save then Send, and Forward: threaded to the original', async () => {
    const delivered = await s.control<{ itemId: string; internetMessageId: string }>('POST', `/mailboxes/${ALICE}/messages`, {
      from: 'jane.doe@fabrikam.test',
      to: [ALICE],
      cc: [BOB],
      subject: 'Site visit',
      body: 'Can we come on Tuesday?',
      messageId: '<visit@fabrikam.test>',
    });
    const alice = connect(ALICE);
    const original = await EmailMessage.Bind(alice, new ItemId(delivered.json.itemId), threading);

    await original.Reply(new MessageBody('Tuesday works.'), false);
    const sent = (await items(ALICE, 'sentitems')).find((i) => i.subject === 'RE: Site visit');
    assert.ok(sent, 'the reply is in Sent Items with the RE: subject');
    const reply = await EmailMessage.Bind(alice, new ItemId(sent.itemId), threading);
    assert.equal(reply.InReplyTo, '<visit@fabrikam.test>');
    assert.equal(reply.References, '<visit@fabrikam.test>');
    assert.equal(reply.ConversationId.UniqueId, original.ConversationId.UniqueId);
    assert.deepEqual(reply.ToRecipients.GetEnumerator().map((a) => a.Address), ['jane.doe@fabrikam.test']);

    const draft = await original.CreateReply(true).Save(WellKnownFolderName.Drafts);
    const saved = await EmailMessage.Bind(alice, draft.Id, threading);
    assert.equal(saved.IsDraft, true);
    assert.deepEqual(saved.CcRecipients.GetEnumerator().map((a) => a.Address), [BOB]);
    await saved.SendAndSaveCopy();
    const bobs = await items(BOB, 'inbox');
    const atBob = bobs.find((i) => i.subject === 'RE: Site visit');
    assert.ok(atBob, 'the reply-all reached Bob');
    const received = await EmailMessage.Bind(connect(BOB), new ItemId(atBob.itemId), threading);
    assert.equal(received.InReplyTo, '<visit@fabrikam.test>');

    await original.Forward(new MessageBody('FYI'), [new EmailAddress(CAROL)]);
    const forwarded = (await items(CAROL, 'inbox')).find((i) => i.subject === 'FW: Site visit');
    assert.ok(forwarded, 'the forward reached Carol');
  });

  test('file and item attachments: saved with the message, listed, loaded; added and removed on a saved item', async () => {
    const alice = connect(ALICE);
    const message = new EmailMessage(alice);
    message.Subject = 'Plans';
    message.Body = new MessageBody('Attached.');
    message.ToRecipients.Add(CAROL);
    message.Attachments.AddFileAttachment('plan.txt', Buffer.from('floor plan').toString('base64'));
    const attached = message.Attachments.AddItemAttachment<EmailMessage>(EmailMessage as unknown as typeof Item, 'Message');
    attached.Name = 'Earlier mail';
    attached.Item.Subject = 'The earlier mail';
    attached.Item.Body = new MessageBody('Older text');
    await message.Save(WellKnownFolderName.Drafts);

    const bound = await EmailMessage.Bind(alice, message.Id, new PropertySet(BasePropertySet.FirstClassProperties, [ItemSchema.Attachments]));
    const list = bound.Attachments.GetEnumerator();
    assert.deepEqual(list.map((a) => a.Name), ['plan.txt', 'Earlier mail']);
    const file = list[0] as FileAttachment;
    await file.Load();
    assert.equal(Buffer.from(file.Base64Content, 'base64').toString(), 'floor plan');
    const item = list[1] as ItemAttachment;
    assert.ok(item instanceof ItemAttachment, 'listed as an item attachment');
    // The library's ItemAttachment.Load validates the attached item before it has one (it fails against any
    // server that lists item attachments without their item, as Exchange does): read it with a plain request.
    const got = await s.ews(`<m:GetAttachment><m:AttachmentShape/><m:AttachmentIds><t:AttachmentId Id="${item.Id}"/></m:AttachmentIds></m:GetAttachment>`, { as: ALICE });
    assert.match(got.text, /<t:Subject>The earlier mail<\/t:Subject>/);

    bound.Attachments.AddFileAttachment('later.txt', Buffer.from('added later').toString('base64'));
    bound.Attachments.Remove(file);
    await bound.Update(0 /* ConflictResolutionMode.NeverOverwrite */);
    const after = await EmailMessage.Bind(alice, message.Id, new PropertySet(BasePropertySet.FirstClassProperties, [ItemSchema.Attachments]));
    assert.deepEqual(after.Attachments.GetEnumerator().map((a) => a.Name), ['Earlier mail', 'later.txt']);
    await after.SendAndSaveCopy();
    const atCarol = (await items(CAROL, 'inbox')).find((i) => i.subject === 'Plans');
    assert.ok(atCarol);
    const received = await EmailMessage.Bind(connect(CAROL), new ItemId(atCarol.itemId), new PropertySet(BasePropertySet.FirstClassProperties, [ItemSchema.Attachments]));
    assert.deepEqual(received.Attachments.GetEnumerator().map((a) => a.Name), ['Earlier mail', 'later.txt']);
  });

  testTraffic(() => s.records, 10);
});
