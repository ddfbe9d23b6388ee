/**
 * GetStreamingEvents: one long HTTP response (chunked) carrying a sequence of SOAP envelopes: an opening
 * "OK", the notifications as they happen, keep-alives, and a final "Closed" when ConnectionTimeout runs out.
 * Only the first document carries an XML declaration, so a client reading the stream as one XML reader
 * (as the EWS Managed API does) can read them all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { child, children, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { el, XML_DECLARATION, type Xml } from '../../xml/write.js';
import { exchangeHeaders, type SandboxRuntime } from '../runtime.js';
import type { ServerName } from '../state/model.js';
import type { EwsContext } from './context.js';
import { ownSubscription } from './operations/notifications.js';
import { EwsError, EwsFault, failure, responseRoot, serverVersionInfo, success } from './soap.js';
import { type QueuedEvent, type Subscription, writeEvent } from './subscriptions.js';

/**
 * One document of the stream, written the way Exchange 2013+ writes them: an unprefixed Envelope in the SOAP
 * namespace, with a Header and a Body that each declare a soap11 prefix. Clients that cut the stream into
 * documents by text depend on it (the EWS Managed API's ports look for "<Envelope" and "</Envelope>").
 */
function document(message: Xml, first: boolean): string {
  const soap11 = { 'xmlns:soap11': NS.soap };
  return (
    (first ? XML_DECLARATION : '') +
    el(
      'Envelope',
      { xmlns: NS.soap },
      el('soap11:Header', soap11, serverVersionInfo()),
      el('soap11:Body', { ...soap11, 'xmlns:xsi': NS.xsi, 'xmlns:xsd': NS.xsd }, responseRoot('GetStreamingEvents', [message])),
    ).serialized
  );
}

export async function streamEvents(
  runtime: SandboxRuntime,
  context: EwsContext,
  request: XmlElement,
  req: IncomingMessage,
  res: ServerResponse,
  server: ServerName,
  onDocument: (text: string) => void,
): Promise<void> {
  const ids = children(child(request, NS.messages, 'SubscriptionIds'), NS.types, 'SubscriptionId');
  const timeoutMinutes = Number(child(request, NS.messages, 'ConnectionTimeout')?.text ?? 30);
  const valid: Subscription[] = [];
  const invalid: string[] = [];
  let problem: EwsError | null = null;
  for (const id of ids) {
    try {
      const subscription = ownSubscription(context, id);
      if (subscription.kind !== 'streaming') throw new EwsError('ErrorInvalidSubscription', 'The subscription is not a streaming subscription.');
      valid.push(subscription);
    } catch (error) {
      if (!(error instanceof EwsError)) throw error;
      problem ??= error;
      invalid.push(id.text.trim());
    }
  }
  const errorIds = invalid.length > 0 ? el('m:ErrorSubscriptionIds', null, invalid.map((id) => el('t:SubscriptionId', null, id))) : null;
  if (valid.length === 0) {
    const body = document(failure('GetStreamingEvents', problem!, errorIds, el('m:ConnectionStatus', null, 'Closed')), true);
    res.writeHead(200, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8' });
    onDocument(body);
    res.end(body);
    return;
  }
  const owner = context.account.username;
  if (runtime.subscriptions.openStreams(owner) + 1 > runtime.settings.hangingConnectionLimit) {
    throw new EwsFault(
      'ErrorExceededConnectionCount',
      'You have exceeded the available concurrent connections for your account.  Try again once your other requests have completed.',
      undefined,
      {
        values: {
          Policy: 'HangingConnectionLimit',
          MaxConcurrencyLimit: runtime.settings.hangingConnectionLimit,
          ErrorMessage: `This operation exceeds the throttling budget for policy part 'HangingConnectionLimit', policy value '${runtime.settings.hangingConnectionLimit}',  Budget type: 'Ews'.  Suggested backoff time 0 ms.`,
        },
      },
    );
  }

  res.writeHead(200, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8', 'Transfer-Encoding': 'chunked' });
  let first = true;
  const write = (message: Xml) => {
    if (res.writableEnded || res.destroyed) return;
    const text = document(message, first);
    first = false;
    onDocument(text);
    res.write(text);
  };
  const keepAlive = () =>
    problem ? failure('GetStreamingEvents', problem, errorIds, el('m:ConnectionStatus', null, 'OK')) : success('GetStreamingEvents', el('m:ConnectionStatus', null, 'OK'));
  write(keepAlive());

  const notify = (subscription: Subscription) => (batch: QueuedEvent[]) => {
    subscription.lastUsed = Date.now();
    write(
      success(
        'GetStreamingEvents',
        // Real servers (and the clients built on them) use m:Notification here; the published schema says t:.
        el('m:Notifications', null, el('m:Notification', null, el('t:SubscriptionId', null, subscription.id), batch.map((q) => writeEvent(q, subscription.mailbox)))),
      ),
    );
  };
  const sinks = valid.map((subscription) => {
    const sink = notify(subscription);
    subscription.sinks.add(sink);
    if (subscription.queue.length > 0) {
      const queued = subscription.queue.splice(0);
      sink(queued);
    }
    return { subscription, sink };
  });

  const anchor = (req.headers['x-anchormailbox'] as string | undefined)?.trim() || null;
  const unregister = runtime.subscriptions.addStream({ owner, server, subscriptions: valid, anchor, cut: () => res.socket?.destroy() });
  await new Promise<void>((resolve) => {
    const heartbeat = setInterval(() => write(keepAlive()), runtime.settings.streamingKeepAliveSeconds * 1000);
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      unregister();
      clearInterval(heartbeat);
      clearTimeout(deadline);
      for (const { subscription, sink } of sinks) {
        subscription.sinks.delete(sink);
        subscription.lastUsed = Date.now();
      }
      if (closedByServer && !res.destroyed) {
        write(success('GetStreamingEvents', el('m:ConnectionStatus', null, 'Closed')));
        res.end();
      }
      resolve();
    };
    const deadline = setTimeout(() => finish(true), timeoutMinutes * 60_000);
    req.socket.once('close', () => finish(false));
    res.once('close', () => finish(false));
  });
}
