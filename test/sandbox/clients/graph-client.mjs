// Microsoft's own Graph client (@microsoft/microsoft-graph-client 3.x) with @azure/msal-node, in their default
// configuration, driving the sandbox's Graph side. Run by test/sandbox/graph-independent-client.test.ts in a child
// process started with NODE_EXTRA_CA_CERTS (the sandbox's CA) and `--import ./resolve-sandbox.mjs` (names under
// the sandbox's domain resolve to 127.0.0.1): neither client gets a custom fetch, agent or network client.
//
// Input: the JSON in GRAPH_CLIENT_INPUT {graphUrl, authority, clientId, clientSecret, mailbox, recipient, hookUrl}.
// Output: one JSON object on stdout, one member per step: {ok: true, ...facts} or {ok: false, error: {...}}.
/* global Request */
import { ConfidentialClientApplication } from '@azure/msal-node';
import { BatchRequestContent, BatchResponseContent, Client, GraphError, PageIterator, ResponseType } from '@microsoft/microsoft-graph-client';

const input = JSON.parse(process.env.GRAPH_CLIENT_INPUT ?? '{}');
const results = {};
const user = `/users/${input.mailbox}`;

function describeError(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    isGraphError: error instanceof GraphError,
    statusCode: error?.statusCode,
    code: error?.code,
    errorCode: error?.errorCode,
    message: String(error?.message ?? error).slice(0, 500),
    body: typeof error?.body === 'string' ? error.body.slice(0, 500) : undefined,
  };
}

async function step(name, fn) {
  try {
    results[name] = { ok: true, ...(await fn()) };
  } catch (error) {
    results[name] = { ok: false, error: describeError(error) };
  }
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

const authorityHost = new URL(input.authority).host;
const msal = new ConfidentialClientApplication({
  auth: { clientId: input.clientId, clientSecret: input.clientSecret, authority: input.authority, knownAuthorities: [authorityHost] },
});
const scopes = ['https://graph.microsoft.com/.default'];
let token = null;

await step('token', async () => {
  const result = await msal.acquireTokenByClientCredential({ scopes });
  token = result.accessToken;
  const c = claims(token);
  return { tokenType: result.tokenType, expiresInFuture: result.expiresOn.getTime() > Date.now(), roles: c.roles ?? null, tid: c.tid, aud: c.aud, tenantId: result.tenantId };
});

await step('wrongSecret', async () => {
  const bad = new ConfidentialClientApplication({
    auth: { clientId: input.clientId, clientSecret: 'not-the-secret', authority: input.authority, knownAuthorities: [authorityHost] },
  });
  try {
    await bad.acquireTokenByClientCredential({ scopes });
    return { refused: false };
  } catch (error) {
    return { refused: true, errorCode: error.errorCode, errorMessage: String(error.errorMessage ?? error.message).slice(0, 300), subError: error.subError };
  }
});

const authProvider = {
  getAccessToken: async () => {
    const result = await msal.acquireTokenByClientCredential({ scopes });
    return result.accessToken;
  },
};
const graphHost = new URL(input.graphUrl).hostname;

// The library adds the bearer token only for the Graph hosts it knows (graph.microsoft.com and the national
// clouds) or the customHosts it is given: first without, to show that, then with the sandbox's host.
await step('withoutCustomHosts', async () => {
  const plain = Client.initWithMiddleware({ authProvider, baseUrl: input.graphUrl });
  try {
    await plain.api(`${user}`).get();
    return { refused: false };
  } catch (error) {
    return { refused: true, error: describeError(error) };
  }
});

const client = Client.initWithMiddleware({ authProvider, baseUrl: input.graphUrl, customHosts: new Set([graphHost]) });

let inboxIds = [];
await step('inboxTop5', async () => {
  const page = await client.api(`${user}/mailFolders/inbox/messages`).select('subject,from,receivedDateTime').top(5).get();
  return { count: page.value.length, subjects: page.value.map((m) => m.subject), keys: [...new Set(page.value.flatMap((m) => Object.keys(m)))].sort(), nextLink: page['@odata.nextLink'] ?? null };
});

await step('pageIterator', async () => {
  const first = await client.api(`${user}/mailFolders/inbox/messages`).select('subject').top(1).get();
  const seen = [];
  const iterator = new PageIterator(client, first, (m) => {
    seen.push({ id: m.id, subject: m.subject });
    return true;
  });
  await iterator.iterate();
  inboxIds = seen.map((m) => m.id);
  return { count: seen.length, ids: seen.map((m) => m.id), subjects: seen.map((m) => m.subject), complete: iterator.isComplete() };
});

let deltaLink = null;
await step('delta', async () => {
  const first = await client.api(`${user}/mailFolders/inbox/messages/delta`).header('Prefer', 'odata.maxpagesize=2').select('subject').get();
  const ids = [];
  let pages = 0;
  let page = first;
  for (;;) {
    pages += 1;
    ids.push(...page.value.map((m) => m.id));
    if (page['@odata.deltaLink']) {
      deltaLink = page['@odata.deltaLink'];
      break;
    }
    if (!page['@odata.nextLink'] || pages > 50) throw new Error(`a delta page with neither link: ${JSON.stringify(Object.keys(page))}`);
    page = await client.api(page['@odata.nextLink']).header('Prefer', 'odata.maxpagesize=2').get();
  }
  // The next round, with nothing changed in between, brings nothing new.
  const again = await client.api(deltaLink).get();
  return { pages, ids, deltaLink: typeof deltaLink === 'string', nextRoundCount: again.value.length, nextRoundHasDeltaLink: typeof again['@odata.deltaLink'] === 'string' };
});

await step('mime', async () => {
  const id = inboxIds[0];
  const text = await client.api(`${user}/messages/${id}/$value`).responseType(ResponseType.TEXT).get();
  const stream = await client.api(`${user}/messages/${id}/$value`).getStream();
  const chunks = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  const streamed = Buffer.concat(chunks).toString('utf8');
  const subject = /^Subject: (.*)$/im.exec(text)?.[1]?.trim() ?? null;
  return { id, subject, sameThroughStream: streamed === text, length: text.length };
});

await step('draftAndSend', async () => {
  const draft = await client.api(`${user}/messages`).post({
    subject: 'Independent draft',
    body: { contentType: 'text', content: 'Sent by the Graph client' },
    toRecipients: [{ emailAddress: { address: input.recipient } }],
    internetMessageHeaders: [{ name: 'x-independent-id', value: 'draft-1' }],
  });
  await client.api(`${user}/messages/${draft.id}/send`).post(null);
  return { draftId: draft.id, isDraft: draft.isDraft, subject: draft.subject };
});

await step('sendMail', async () => {
  const answer = await client.api(`${user}/sendMail`).post({
    message: { subject: 'Independent sendMail', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: input.recipient } }] },
    saveToSentItems: true,
  });
  return { answer: answer ?? null };
});

await step('move', async () => {
  const id = inboxIds[inboxIds.length - 1];
  const moved = await client.api(`${user}/messages/${id}/move`).post({ destinationId: 'deleteditems' });
  const folder = await client.api(`${user}/mailFolders/deleteditems`).select('id,displayName').get();
  return { from: id, movedId: moved.id, parentFolderId: moved.parentFolderId, deletedItemsId: folder.id, subject: moved.subject };
});

await step('batch', async () => {
  const base = new URL(input.graphUrl).origin;
  const batch = new BatchRequestContent([
    { id: '1', request: new Request(`${base}${user}?$select=userPrincipalName`, { method: 'GET' }) },
    { id: '2', request: new Request(`${base}${user}/mailFolders/inbox/messages?$top=2&$select=subject`, { method: 'GET' }), dependsOn: ['1'] },
    { id: '3', request: new Request(`${base}${user}/messages/AAMkAGnothere`, { method: 'GET' }), dependsOn: ['2'] },
  ]);
  const answer = await client.api('/$batch').post(await batch.getContent());
  const content = new BatchResponseContent(answer);
  const one = await content.getResponseById('1').json();
  const two = await content.getResponseById('2').json();
  const three = content.getResponseById('3');
  return { upn: one.userPrincipalName, twoCount: two.value.length, threeStatus: three.status, threeCode: (await three.json()).error?.code ?? null };
});

await step('subscription', async () => {
  const expirationDateTime = new Date(Date.now() + 60 * 60_000).toISOString();
  const sub = await client.api('/subscriptions').post({
    changeType: 'created',
    notificationUrl: `${input.hookUrl}/independent`,
    resource: `${user}/mailFolders('inbox')/messages`,
    expirationDateTime,
    clientState: 'independent-state',
  });
  const fetched = await client.api(`/subscriptions/${sub.id}`).get();
  await client.api(`/subscriptions/${sub.id}`).delete();
  let afterDelete = null;
  try {
    await client.api(`/subscriptions/${sub.id}`).get();
  } catch (error) {
    afterDelete = describeError(error);
  }
  return { id: sub.id, clientState: sub.clientState, resource: sub.resource, fetchedId: fetched.id, afterDelete };
});

await step('errors', async () => {
  try {
    await client.api(`${user}/messages/AAMkAGnothere`).get();
    return { thrown: null };
  } catch (error) {
    return { thrown: describeError(error) };
  }
});

results.harness = { ok: true, lookups: [...new Set(globalThis.__sandboxLookups ?? [])].sort(), globalFetch: typeof fetch === 'function' };
process.stdout.write(JSON.stringify(results));
