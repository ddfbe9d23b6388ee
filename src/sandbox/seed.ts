/**
 * `--seed demo`: a service account with the impersonation role, a handful of mailboxes on both servers, and
 * mail in them: messages from outside contacts, a reply in a thread, one with an attachment, one in a folder.
 * Seeding an existing data folder again changes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxState } from './state/sandbox-state.js';

export interface SeedResult {
  serviceAccount: { username: string; password: string };
  mailboxes: string[];
  /** The demo app registration of the Graph side (Mail.ReadWrite and Mail.Send consented). */
  graphApp: { clientId: string; clientSecret: string };
}

/** The demo tenant and app: fixed, so that a profile written for the demo sandbox works against every run of it. */
export const DEMO_TENANT_ID = '7a3b2c1d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const DEMO_CLIENT_ID = '5d6e7f80-91a2-4b3c-8d4e-5f60718293a4';
export const DEMO_CLIENT_SECRET = 'Sbx8Q~demo-graph-client-secret-not-real.';

/** The demo tenant's id and its app (with the sandbox's known secret); data folders seeded before it existed get them too. */
function seedGraph(state: SandboxState): SeedResult['graphApp'] {
  const graph = state.graph;
  if (graph.apps.length === 0 && graph.tenantId !== DEMO_TENANT_ID) {
    graph.tenantId = DEMO_TENANT_ID;
    state.changed();
  }
  let app = graph.apps.find((a) => a.clientId === DEMO_CLIENT_ID);
  if (!app) {
    app = {
      clientId: DEMO_CLIENT_ID,
      displayName: 'Liaison (sandbox demo)',
      permissions: ['Mail.ReadWrite', 'Mail.Send'],
      secrets: [{ value: DEMO_CLIENT_SECRET, expiresAt: null }],
      certificates: [],
      servicePrincipalId: 'c0ffee00-1234-4abc-9def-00000000d3e0',
    };
    graph.apps.push(app);
    state.changed();
  }
  return { clientId: app.clientId, clientSecret: app.secrets[0]?.value ?? DEMO_CLIENT_SECRET };
}

const PEOPLE: Array<{ local: string; name: string; server: 'mail' | 'mail2' }> = [
  { local: 'alice', name: 'Alice Adams', server: 'mail' },
  { local: 'bob', name: 'Bob Brown', server: 'mail' },
  { local: 'carol', name: 'Carol Clark', server: 'mail' },
  { local: 'dave', name: 'Dave Davis', server: 'mail2' },
  { local: 'sales', name: 'Sales', server: 'mail' },
];

function password(): string {
  return `Sbx-${randomBytes(9).toString('base64url')}`;
}

export async function seedDemo(state: SandboxState): Promise<SeedResult> {
  const domain = state.domain;
  const serviceName = `svc-liaison@${domain}`;
  const existing = state.account(serviceName);
  const mailboxes = PEOPLE.map((p) => `${p.local}@${domain}`);
  // A distribution list of the directory (ExpandDL, MailTips; mail to it reaches its members). Data folders seeded
  // before it existed get it too.
  if (!state.distributionList(`sales-team@${domain}`)) {
    state.distributionLists.push({ address: `sales-team@${domain}`, name: 'Sales Team', members: ['alice', 'bob', 'sales'].map((l) => `${l}@${domain}`) });
    state.changed();
  }
  const graphApp = seedGraph(state);
  if (existing) return { serviceAccount: { username: existing.username, password: existing.password }, mailboxes, graphApp };

  const service = state.addAccount({ username: serviceName, password: password(), impersonation: true, mailbox: null });
  for (const person of PEOPLE) {
    const address = `${person.local}@${domain}`;
    state.addMailbox(address, person.name, person.server);
    state.addAccount({ username: address, password: password(), impersonation: false, mailbox: address });
  }
  const mailbox = (local: string) => state.mailbox(`${local}@${domain}`)!;
  const day = 24 * 3600 * 1000;
  const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day);

  const jane = { name: 'Jane Doe', address: 'jane.doe@fabrikam.test' };
  const raj = { name: 'Raj Patel', address: 'raj.patel@adatum.test' };
  const lee = { name: 'Lee Wong', address: 'lee.wong@northwind.test' };

  const first = await state.compose({
    from: jane,
    to: [{ name: 'Alice Adams', address: `alice@${domain}` }],
    subject: 'Quote for 40 licences',
    text: 'Hello Alice,\n\nCould you send us a quote for 40 licences?\n\nJane',
    messageId: `<quote-40@fabrikam.test>`,
    date: at(3),
  });
  await state.deliver(mailbox('alice'), first, undefined, at(3));
  const reply = await state.compose({
    from: jane,
    to: [{ name: 'Alice Adams', address: `alice@${domain}` }],
    cc: [{ name: 'Sales', address: `sales@${domain}` }],
    subject: 'RE: Quote for 40 licences',
    html: '<p>Thanks Alice, the quote looks good. We will sign this week.</p>',
    messageId: `<quote-40-re@fabrikam.test>`,
    inReplyTo: '<quote-40@fabrikam.test>',
    references: '<quote-40@fabrikam.test>',
    date: at(1),
  });
  await state.deliver(mailbox('alice'), reply, undefined, at(1));
  await state.deliver(mailbox('sales'), reply, undefined, at(1));
  await state.deliver(
    mailbox('bob'),
    await state.compose({
      from: raj,
      to: [{ name: 'Bob Brown', address: `bob@${domain}` }],
      subject: 'Signed contract',
      text: 'Bob, the signed contract is attached.',
      messageId: `<contract@adatum.test>`,
      date: at(2),
      attachments: [{ filename: 'contract.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4\n% sandbox demo contract\n') }],
    }),
    undefined,
    at(2),
  );
  await state.deliver(
    mailbox('sales'),
    await state.compose({
      from: lee,
      to: [{ name: 'Sales', address: `sales@${domain}` }],
      subject: 'Pricing question',
      text: 'Do you offer discounts for non-profits?',
      messageId: `<pricing@northwind.test>`,
      date: at(0.5),
    }),
    undefined,
    at(0.5),
  );
  const projects = mailbox('carol').addFolder(mailbox('carol').distinguishedFolder('inbox')!.id, 'Projects', 'IPF.Note');
  await state.deliver(
    mailbox('carol'),
    await state.compose({ from: jane, to: [{ name: 'Carol Clark', address: `carol@${domain}` }], subject: 'Kick-off notes', text: 'Notes from the kick-off.', date: at(4) }),
    projects,
    at(4),
  );
  await state.deliver(
    mailbox('dave'),
    await state.compose({ from: lee, to: [{ name: 'Dave Davis', address: `dave@${domain}` }], subject: 'Hello from Northwind', text: 'Hi Dave!', date: at(1) }),
    undefined,
    at(1),
  );
  // An address whose mailbox lives elsewhere: Autodiscover answers with a redirect to the other address.
  state.redirects.push({ address: `erin@${domain}`, kind: 'address', target: 'erin@contoso-cloud.test' });
  state.changed();
  return { serviceAccount: { username: service.username, password: service.password }, mailboxes, graphApp };
}
