/**
 * Message properties and extended properties through a client written against real Exchange: ews-javascript-api,
 * a port of Microsoft's EWS Managed API. It saves a draft with its properties, binds to it again (its
 * FirstClassProperties ask for every message property), updates it, and lists a mail folder asking for an
 * appointment's properties too, as such clients do.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { XhrApi } from '@ewsjs/xhr';
import {
  AppointmentSchema,
  BasePropertySet,
  ConfigurationApi,
  ConflictResolutionMode,
  ConnectingIdType,
  DefaultExtendedPropertySet,
  EmailAddress,
  EmailMessage,
  EmailMessageSchema,
  ExchangeService,
  ExchangeVersion,
  ExtendedPropertyDefinition,
  Importance,
  ImpersonatedUserId,
  ItemSchema,
  ItemView,
  MapiPropertyType,
  MessageBody,
  PropertySet,
  Sensitivity,
  Uri,
  WebCredentials,
  WellKnownFolderName,
  type IOutParam,
} from 'ews-javascript-api';
import { loopbackLookup, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';

describe('message and extended properties through ews-javascript-api', () => {
  let s: TestSandbox;
  let agent: https.Agent;
  let service: ExchangeService;
  const crmId = new ExtendedPropertyDefinition(DefaultExtendedPropertySet.PublicStrings, 'CrmActivityId', MapiPropertyType.String);
  const score = new ExtendedPropertyDefinition(DefaultExtendedPropertySet.PublicStrings, 'Score', MapiPropertyType.Integer);

  before(async () => {
    s = await startTestSandbox();
    agent = new https.Agent({ ca: s.sandbox.pki.caCertPem, lookup: loopbackLookup, keepAlive: false });
    ConfigurationApi.ConfigureXHR(new XhrApi({ httpsAgent: agent, proxy: false }));
    service = new ExchangeService(ExchangeVersion.Exchange2016);
    service.Credentials = new WebCredentials(s.info.serviceAccount!.username, s.password);
    service.Url = new Uri(s.info.ews);
    service.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, BOB);
  });
  after(async () => {
    agent?.destroy();
    await s?.close();
  });

  function extended<T>(message: EmailMessage, definition: ExtendedPropertyDefinition): T | undefined {
    const out = { outValue: null, success: false } as unknown as IOutParam<T>;
    return message.ExtendedProperties.TryGetValue(definition, out) ? (out.outValue ?? undefined) : undefined;
  }

  test('a saved draft binds back with what was set; an update is read back', async () => {
    const message = new EmailMessage(service);
    message.Subject = 'Managed API draft';
    message.Body = new MessageBody('Hello from the managed API.');
    message.Importance = Importance.High;
    message.Sensitivity = Sensitivity.Private;
    message.IsReadReceiptRequested = true;
    message.IsDeliveryReceiptRequested = true;
    message.Categories.Add('CRM');
    message.ToRecipients.Add(new EmailAddress('alice@contoso.test'));
    message.ReplyTo.Add(new EmailAddress('sales@contoso.test'));
    message.SetExtendedProperty(crmId, 'ACT-7');
    message.SetExtendedProperty(score, 41);
    await message.Save(WellKnownFolderName.Drafts);

    const properties = new PropertySet(BasePropertySet.FirstClassProperties, [crmId, score, EmailMessageSchema.ReplyTo]);
    const bound = await EmailMessage.Bind(service, message.Id, properties);
    assert.equal(bound.Subject, 'Managed API draft');
    assert.equal(bound.Body.Text, 'Hello from the managed API.');
    assert.equal(bound.Importance, Importance.High);
    assert.equal(bound.Sensitivity, Sensitivity.Private);
    assert.equal(bound.IsReadReceiptRequested, true);
    assert.equal(bound.IsDeliveryReceiptRequested, true);
    assert.deepEqual(bound.Categories.GetEnumerator(), ['CRM']);
    assert.deepEqual(bound.ReplyTo.GetEnumerator().map((a) => a.Address), ['sales@contoso.test']);
    assert.equal(extended<string>(bound, crmId), 'ACT-7');
    assert.equal(Number(extended<number>(bound, score)), 41);

    bound.Subject = 'Managed API draft, updated';
    bound.Sensitivity = Sensitivity.Confidential;
    bound.SetExtendedProperty(crmId, 'ACT-8');
    await bound.Update(ConflictResolutionMode.AlwaysOverwrite);
    const again = await EmailMessage.Bind(service, message.Id, properties);
    assert.equal(again.Subject, 'Managed API draft, updated');
    assert.equal(again.Sensitivity, Sensitivity.Confidential);
    assert.equal(extended<string>(again, crmId), 'ACT-8');
  });

  test('listing a mail folder with an appointment\'s properties in the shape returns the messages', async () => {
    const view = new ItemView(50);
    view.PropertySet = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.Subject, AppointmentSchema.Start, AppointmentSchema.Location, crmId]);
    const found = await service.FindItems(WellKnownFolderName.Drafts, view);
    const subjects = found.Items.map((i) => i.Subject);
    assert.ok(subjects.includes('Managed API draft, updated'));
    const draft = found.Items.find((i) => i.Subject === 'Managed API draft, updated')! as EmailMessage;
    assert.equal(extended<string>(draft, crmId), 'ACT-8');
  });

  testTraffic(() => s.records, 4);
});
