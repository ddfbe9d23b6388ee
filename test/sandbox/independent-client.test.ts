/**
 * The sandbox driven by an EWS client it was not written with: ews-javascript-api, a port of Microsoft's EWS
 * Managed API. Where the sandbox's own tests check the wire against the references, this file checks that a
 * client built against real Exchange accepts the sandbox's answers and that the requests it builds are ones the
 * sandbox takes: Autodiscover, impersonation with X-AnchorMailbox, SyncFolderItems paging, GetItem with MIME,
 * SendAndSaveCopy, CreateFolder and MoveItem, streaming notifications, and a refused password.
 *
 * How the client reaches the sandbox: the library speaks through @ewsjs/xhr (axios), configured here with an
 * https.Agent that trusts the sandbox's CA (verification stays on) and resolves every name to 127.0.0.1. The
 * library derives Autodiscover candidates such as https://autodiscover.contoso.test/… on port 443, while the
 * sandbox listens on a free port, so the agent also sends any port-443 connection for a sandbox host name to the
 * sandbox's port, keeping the name for SNI, the certificate check and the Host header.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { XhrApi } from '@ewsjs/xhr';
import {
  AutodiscoverService,
  BasePropertySet,
  ConfigurationApi,
  ConnectingIdType,
  EmailMessage,
  EmailMessageSchema,
  EventType,
  ExchangeService,
  ExchangeVersion,
  Folder,
  FolderId,
  ImpersonatedUserId,
  ItemEvent,
  ItemId,
  ItemSchema,
  MessageBody,
  PropertySet,
  ServiceError,
  ServiceResponseException,
  SoapFaultDetails,
  StreamingSubscriptionConnection,
  SyncFolderItemsScope,
  Uri,
  UserSettingName,
  WebCredentials,
  WellKnownFolderName,
  type ChangeCollection,
  type ItemChange,
  type NotificationEventArgs,
  type SubscriptionErrorEventArgs,
} from 'ews-javascript-api';
import { loopbackLookup, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const CAROL = 'carol@contoso.test';
const DAVE = 'dave@contoso.test';
const OUTSIDE = 'jane.doe@fabrikam.test';

interface ControlItem {
  itemId: string;
  subject: string;
  internetMessageId: string | null;
  folder: string;
}

interface OutboundRecord {
  from: string;
  recipients: string[];
  subject: string;
  internetMessageId: string | null;
}

/**
 * An https.Agent for the sandbox: trusts its CA, resolves its names to the loopback address, and sends the
 * port-443 connections the library makes for its Autodiscover candidates to the port the sandbox listens on.
 * Counts those redirected connections, so a test can tell that the library went the default-port way.
 */
class SandboxAgent extends https.Agent {
  readonly mapped: string[] = [];

  constructor(
    ca: string,
    private readonly hosts: ReadonlySet<string>,
    private readonly port: number,
  ) {
    super({ ca, lookup: loopbackLookup, keepAlive: false });
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? '').toLowerCase();
    const port = Number(options.port ?? 443);
    if (port === 443 && this.hosts.has(host)) {
      this.mapped.push(host);
      return super.createConnection({ ...options, port: this.port }, callback);
    }
    return super.createConnection(options, callback);
  }
}

/**
 * What the library's errors carry, read without trusting its typings: it rejects with its own Exception classes,
 * with SoapFaultDetails (whose getters its typings leave out), or with plain objects.
 */
interface ErrorFacts {
  name: string;
  message: string;
  /** SoapFaultDetails: the HTTP status of the answer. */
  httpStatus: number | undefined;
  /** SoapFaultDetails: the EWS response code of a SOAP fault (a ServiceError value). */
  responseCode: unknown;
  /** ServiceResponseException: the EWS response code. */
  errorCode: unknown;
  /** SoapFaultDetails: the exception the library made of the answer, if any. */
  inner: ErrorFacts | null;
}

function errorFacts(error: unknown): ErrorFacts {
  const e = (error ?? {}) as { constructor?: { name?: string }; message?: unknown; HttpStatusCode?: unknown; ResponseCode?: unknown; ErrorCode?: unknown; Exception?: unknown };
  return {
    name: e.constructor?.name ?? typeof error,
    message: typeof e.message === 'string' ? e.message : String(error),
    httpStatus: typeof e.HttpStatusCode === 'number' ? e.HttpStatusCode : undefined,
    responseCode: e.ResponseCode,
    errorCode: e.ErrorCode,
    inner: e.Exception ? errorFacts(e.Exception) : null,
  };
}

/** The changes of one SyncFolderItems page, as an array (the library hands back an enumerable of its own). */
function changesOf(page: ChangeCollection<ItemChange>): ItemChange[] {
  return page.GetEnumerator();
}

describe('an independent EWS client (ews-javascript-api) against the sandbox', () => {
  let s: TestSandbox;
  let agent: SandboxAgent;

  before(async () => {
    s = await startTestSandbox();
    agent = new SandboxAgent(s.sandbox.pki.caCertPem, new Set(s.info.hosts), s.info.listen.port);
    // proxy: false keeps axios from sending the sandbox's names to a proxy named in the environment.
    ConfigurationApi.ConfigureXHR(new XhrApi({ httpsAgent: agent, proxy: false }));
  });
  after(async () => {
    agent?.destroy();
    await s?.close();
  });

  const credentials = (password = s.password) => new WebCredentials(s.info.serviceAccount!.username, password);

  /** The EWS URL of a mailbox from the sandbox's SOAP Autodiscover service (GetUserSettings). */
  async function discover(address: string): Promise<string> {
    const autodiscover = new AutodiscoverService(new Uri(s.info.autodiscover.soap[1]!), ExchangeVersion.Exchange2016);
    autodiscover.Credentials = credentials();
    const response = await autodiscover.GetUserSettings(address, [UserSettingName.InternalEwsUrl, UserSettingName.ExternalEwsUrl]);
    const url = response.GetSettingValue<string>(UserSettingName.ExternalEwsUrl);
    assert.ok(url, `Autodiscover gave no ExternalEwsUrl for ${address}`);
    return url;
  }

  /**
   * A service acting on one mailbox the way a sync service does: the service account's credentials, the
   * mailbox impersonated by SMTP address, X-AnchorMailbox naming it, at the EWS URL Autodiscover gave.
   */
  async function connect(address: string, password?: string): Promise<ExchangeService> {
    const service = new ExchangeService(ExchangeVersion.Exchange2016);
    service.Credentials = credentials(password);
    service.Url = new Uri(await discover(address));
    service.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, address);
    service.HttpHeaders.Add('X-AnchorMailbox', address);
    return service;
  }

  async function controlItems(address: string, folder: string): Promise<ControlItem[]> {
    const answer = await s.control<ControlItem[]>('GET', `/mailboxes/${address}/folders/${encodeURIComponent(folder)}/items`);
    assert.equal(answer.status, 200);
    return answer.json;
  }

  test('AutodiscoverService (SOAP GetUserSettings) finds the EWS URL of each mailbox, on either server', async () => {
    assert.equal(await discover(ALICE), s.info.ews);
    assert.equal(await discover(DAVE), s.info.ews2, 'dave@ lives on mail2');
    assert.ok(s.records.some((r) => r.surface === 'autodiscover-soap' && r.status === 200));
  });

  // The library's own way: AutodiscoverUrl derives https://autodiscover.<domain>/… and https://<domain>/… (port
  // 443, which the agent maps to the sandbox), first GETs autodiscover.xml there without credentials and keeps
  // a host only if the answer (a 401 is fine) advertises the SOAP service with an X-SOAP-Enabled header, as
  // Exchange does and as Microsoft's EWS Managed API requires; then it calls GetUserSettings at
  // /autodiscover/autodiscover.svc on that host.
  test(
    'ExchangeService.AutodiscoverUrl finds the EWS URL from the address alone, through the default Autodiscover URLs',
    async () => {
      // The probe the library makes first, made here too so that a failure names its cause.
      const probe = await request(s.info.autodiscover.pox[1]!, { method: 'GET', dispatcher: s.agent });
      await probe.body.dump();
      assert.equal(probe.headers['x-soap-enabled'], 'True', `the answer to the GET probe (HTTP ${probe.statusCode}) advertises the SOAP Autodiscover service`);

      for (const [address, expected] of [
        [ALICE, s.info.ews],
        [DAVE, s.info.ews2],
      ] as const) {
        const service = new ExchangeService(ExchangeVersion.Exchange2016);
        service.Credentials = credentials();
        // Redirections (none expected here) are followed only to HTTPS URLs; the library's default refuses all.
        await service.AutodiscoverUrl(address, (url: string) => url.startsWith('https://'));
        assert.equal(service.Url.ToString(), expected);
      }
      assert.ok(agent.mapped.includes(`autodiscover.${s.info.domain}`), 'the library went to the default port of autodiscover.<domain>');
    },
  );

  test('SyncFolderItems with impersonation pages through the Inbox until MoreChangesAvailable is false', async () => {
    for (let n = 1; n <= 3; n += 1) {
      const delivered = await s.control('POST', `/mailboxes/${DAVE}/messages`, { from: OUTSIDE, to: [DAVE], subject: `Sync page ${n}` });
      assert.equal(delivered.status, 201);
    }
    const service = await connect(DAVE);
    const inbox = new FolderId(WellKnownFolderName.Inbox);
    const seen: string[] = [];
    const pageSizes: number[] = [];
    // No SyncState on the first call (the library leaves the element out), then each page's state in turn.
    let state: string | null = null;
    for (let pages = 0; ; pages += 1) {
      assert.ok(pages < 20, 'MoreChangesAvailable never became false');
      const page: ChangeCollection<ItemChange> = await service.SyncFolderItems(inbox, PropertySet.IdOnly, [], 2, SyncFolderItemsScope.NormalItems, state as string);
      pageSizes.push(page.Count);
      seen.push(...changesOf(page).map((change) => change.ItemId.UniqueId));
      assert.ok(page.SyncState, 'every page carries a SyncState');
      state = page.SyncState;
      if (!page.MoreChangesAvailable) break;
    }
    const expected = await controlItems(DAVE, 'inbox');
    assert.equal(expected.length, 4, 'the seeded message and three new ones');
    assert.deepEqual([...seen].sort(), expected.map((i) => i.itemId).sort());
    assert.deepEqual(pageSizes, [2, 2]);
    const quiet = await service.SyncFolderItems(inbox, PropertySet.IdOnly, [], 2, SyncFolderItemsScope.NormalItems, state as string);
    assert.equal(quiet.Count, 0, 'nothing new since the last SyncState');
    assert.equal(quiet.MoreChangesAvailable, false);
  });

  test('X-AnchorMailbox set through service.HttpHeaders reaches the server: it routes a request sent to the other server', async () => {
    // dave@ lives on mail2; a front end that is told the mailbox (X-AnchorMailbox) passes the request on.
    const routed = await connect(DAVE);
    routed.Url = new Uri(s.info.ews);
    const inbox = await Folder.Bind(routed, WellKnownFolderName.Inbox);
    assert.equal(inbox.DisplayName, 'Inbox');

    const unanchored = await connect(DAVE);
    unanchored.Url = new Uri(s.info.ews);
    unanchored.HttpHeaders.remove('X-AnchorMailbox');
    await assert.rejects(Folder.Bind(unanchored, WellKnownFolderName.Inbox), (error: unknown) => {
      const facts = errorFacts(error);
      assert.equal(facts.httpStatus, 500, `${facts.name}: ${facts.message}`);
      assert.equal(facts.responseCode, ServiceError.ErrorMailboxMoveInProgress, facts.message);
      return true;
    });
  });

  test('GetItem returns the MIME content, which decodes to the message with its Message-ID', async () => {
    const service = await connect(BOB);
    const [contract] = (await controlItems(BOB, 'inbox')).filter((i) => i.internetMessageId === '<contract@adatum.test>');
    assert.ok(contract, 'the seeded contract message');
    const shape = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.MimeContent, ItemSchema.Subject, EmailMessageSchema.InternetMessageId]);
    const message = await EmailMessage.Bind(service, new ItemId(contract.itemId), shape);
    assert.equal(message.Subject, 'Signed contract');
    assert.equal(message.InternetMessageId, '<contract@adatum.test>');
    assert.match(message.MimeContent.Content, /^[A-Za-z0-9+/]+=*$/, 'MimeContent is base64');
    const mime = Buffer.from(message.MimeContent.Content, 'base64').toString('utf8');
    assert.match(mime, /^Message-ID: <contract@adatum\.test>\r?$/im);
    assert.match(mime, /^Subject: Signed contract\r?$/im);
    assert.match(mime, /contract\.pdf/);
  });

  test('SendAndSaveCopy delivers to a sandbox mailbox, records outside mail, and keeps a copy in Sent Items', async () => {
    const service = await connect(ALICE);
    const subject = `Proposal ${Date.now()}`;
    const message = new EmailMessage(service);
    message.Subject = subject;
    message.Body = new MessageBody('Here is the proposal we discussed.');
    message.ToRecipients.Add(CAROL);
    message.ToRecipients.Add(OUTSIDE);
    await message.SendAndSaveCopy();

    const received = (await controlItems(CAROL, 'inbox')).filter((i) => i.subject === subject);
    assert.equal(received.length, 1, 'one copy in the recipient’s Inbox');
    const sent = (await controlItems(ALICE, 'sentitems')).filter((i) => i.subject === subject);
    assert.equal(sent.length, 1, 'one copy in the sender’s Sent Items');
    const outbound = await s.control<OutboundRecord[]>('GET', '/outbound');
    const out = outbound.json.filter((o) => o.subject === subject);
    assert.equal(out.length, 1, 'one outbound record');
    assert.equal(out[0]!.from, ALICE);
    assert.deepEqual(out[0]!.recipients, [OUTSIDE], 'only the outside address leaves the sandbox');
    assert.equal(out[0]!.internetMessageId, received[0]!.internetMessageId, 'the same message went both ways');
  });

  test('CreateFolder makes a folder that MoveItem moves into (new id); creating it again is ErrorFolderExists', async () => {
    const service = await connect(ALICE);
    const folder = new Folder(service);
    folder.DisplayName = 'Customers';
    await folder.Save(WellKnownFolderName.Inbox);
    assert.ok(folder.Id?.UniqueId, 'the saved folder has an id');

    const [quote] = (await controlItems(ALICE, 'inbox')).filter((i) => i.internetMessageId === '<quote-40@fabrikam.test>');
    assert.ok(quote, 'the seeded quote request');
    const item = await EmailMessage.Bind(service, new ItemId(quote.itemId), PropertySet.IdOnly);
    const moved = await item.Move(folder.Id);
    assert.ok(moved?.Id?.UniqueId, 'MoveItem returns the moved item');
    assert.notEqual(moved.Id.UniqueId, quote.itemId, 'a moved item has a new id');

    const inFolder = await controlItems(ALICE, 'Inbox/Customers');
    assert.deepEqual(inFolder.map((i) => i.itemId), [moved.Id.UniqueId]);
    assert.equal((await controlItems(ALICE, 'inbox')).some((i) => i.itemId === quote.itemId), false, 'gone from the Inbox');

    const again = new Folder(service);
    again.DisplayName = 'Customers';
    await assert.rejects(again.Save(WellKnownFolderName.Inbox), (error: unknown) => {
      assert.ok(error instanceof ServiceResponseException, `a ServiceResponseException, not ${errorFacts(error).name}: ${errorFacts(error).message}`);
      assert.equal(error.ErrorCode, ServiceError.ErrorFolderExists);
      return true;
    });
  });

  // Open() starts GetStreamingEvents and returns a promise that only ever settles on failure (the library
  // reports the stream through its event lists), so it is not awaited; the wait for the events ends at the
  // test's timeout through the test's AbortSignal, and the connection is closed either way.
  test(
    'a streaming subscription raises NewMail and Created for a delivered message, and closes cleanly',
    { timeout: 10_000 },
    async (t) => {
      const service = await connect(CAROL);
      const subscription = await service.SubscribeToStreamingNotifications([new FolderId(WellKnownFolderName.Inbox)], EventType.NewMail, EventType.Created);
      const connection = new StreamingSubscriptionConnection(service, 1);
      connection.AddSubscription(subscription);
      const events = new Map<EventType, string[]>();
      const problems: string[] = [];
      const bothSeen = new Promise<void>((resolve, reject) => {
        connection.OnNotificationEvent.push((_sender: unknown, args: NotificationEventArgs) => {
          for (const event of args.Events) {
            const id = event instanceof ItemEvent ? event.ItemId.UniqueId : '';
            events.set(event.EventType, [...(events.get(event.EventType) ?? []), id]);
          }
          if (events.has(EventType.NewMail) && events.has(EventType.Created)) resolve();
        });
        t.signal.addEventListener('abort', () => reject(new Error(`no NewMail and Created events before the timeout (seen: ${[...events.keys()].map((k) => EventType[k]).join(', ') || 'none'})`)));
      });
      // Awaited below; this keeps an abort after an earlier failure from becoming an unhandled rejection.
      bothSeen.catch(() => undefined);
      const disconnected = new Promise<ErrorFacts | null>((resolve) => {
        connection.OnDisconnect.push((_sender: unknown, args: SubscriptionErrorEventArgs) => resolve(args.Exception ? errorFacts(args.Exception) : null));
      });
      connection.OnSubscriptionError.push((_sender: unknown, args: SubscriptionErrorEventArgs) => problems.push(errorFacts(args.Exception).message));
      connection.Open().catch((error: unknown) => problems.push(errorFacts(error).message));
      try {
        const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${CAROL}/messages`, { from: OUTSIDE, to: [CAROL], subject: 'Streaming', body: 'Hello' });
        assert.equal(delivered.status, 201);
        await bothSeen;
        assert.deepEqual(events.get(EventType.NewMail), [delivered.json.itemId]);
        assert.deepEqual(events.get(EventType.Created), [delivered.json.itemId]);
        assert.deepEqual(problems, []);
      } finally {
        if (connection.IsOpen) connection.Close();
      }
      assert.equal(await disconnected, null, 'a clean disconnect carries no exception');
      assert.equal(connection.IsOpen, false);
    },
  );

  test('a wrong password surfaces in the library as HTTP 401', async () => {
    const service = await connect(ALICE, 'not-the-password');
    // The library rejects with SoapFaultDetails for any HTTP error; the 401 is its status, and the exception
    // the library made of it (ServiceRequestUnauthorizedException) rides along.
    await assert.rejects(Folder.Bind(service, WellKnownFolderName.Inbox), (error: unknown) => {
      const facts = errorFacts(error);
      assert.ok(error instanceof SoapFaultDetails, `${facts.name}: ${facts.message}`);
      assert.equal(facts.httpStatus, 401);
      assert.equal(facts.inner?.name, 'ServiceRequestUnauthorizedException');
      assert.match(facts.message, /401 Unauthorized/);
      return true;
    });
  });

  testTraffic(() => s.records);
});
