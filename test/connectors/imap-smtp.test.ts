/**
 * The imap-smtp connector's parts against the real test Dovecot and Postfix: the Undeliverable folder created and a
 * message moved into it; a send found in Sent by its Message-ID; a wrong SMTP password, a wrong IMAP password and a
 * certificate for another name classified as permanent with the server's words. And the Bcc header left out of
 * what is submitted, kept in what is saved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapSmtpConnector } from '../../src/connectors/imap/connector.js';
import { submissionOf, withoutBcc } from '../../src/connectors/mail/outgoing.js';
import type { Profile } from '../../src/store/profiles.js';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';
import { message } from '../helpers/mail-world.js';
import { testProfile } from '../helpers/memory-sync-store.js';
import { messageId } from '../helpers/sync.js';

test('the Bcc header is left out of what is submitted, folded lines and all; its addresses are in the envelope', async () => {
  const mime = Buffer.from('From: a@x.test\r\nTo: b@x.test\r\nBcc: secret@x.test,\r\n  other@x.test\r\nSubject: s\r\n\r\nBcc: in the body stays\r\n');
  const wire = withoutBcc(mime).toString();
  assert.equal(wire, 'From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\n\r\nBcc: in the body stays\r\n');
  const { envelope } = await submissionOf(mime, 'a@x.test');
  assert.deepEqual(envelope, { from: 'a@x.test', to: ['b@x.test', 'secret@x.test', 'other@x.test'] });
  await assert.rejects(submissionOf(Buffer.from('From: a@x.test\r\nSubject: s\r\n\r\nx'), 'a@x.test'), /no recipient/);
});

describe('the imap-smtp connector against Dovecot and Postfix', mailServersSkip(), () => {
  let servers: MailServers;
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => servers?.stop());

  const connector = (over: Partial<Profile> = {}, password = servers.master.password, outgoingPassword: string | null = null) =>
    new ImapSmtpConnector({
      profile: testProfile({
        serverType: 'imap-smtp',
        incomingServer: `imaps://${servers.host}:${servers.ports.imaps}`,
        outgoingServer: `smtp://${servers.host}:${servers.ports.submission}`,
        username: servers.master.username,
        credentialSource: 'profile',
        masterUserSeparator: '*',
        trustedCaPem: servers.caPem,
        requestTimeoutSeconds: 10,
        ...over,
      } as Partial<Profile>),
      secrets: { password, outgoingPassword, clientSecret: null },
      resolve: [...servers.resolve, `wrong.liaison.test:${servers.ports.imaps}:127.0.0.1`],
    });

  test('Undeliverable is created under the Inbox and a message moved there; a send is found in Sent by its Message-ID', async () => {
    const user = await servers.addUser('mover');
    const id = messageId('move');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [user.address] }, message({ from: 'carla@fabrikam.test', to: [user.address], subject: 'to move', messageId: id }));
    await servers.waitForMail(user.address, 1);
    const c = connector();
    const session = await c.open(user.address);
    try {
      const page = await session.listChanges('inbox', null, 10);
      assert.equal(page.changes.length, 1);
      assert.equal(page.changes[0]!.internetMessageId, id);
      const folder = await session.ensureFolder(['Undeliverable'], 'inbox');
      assert.deepEqual([folder.id, folder.created], ['INBOX/Undeliverable', true]);
      assert.equal((await session.ensureFolder(['Undeliverable'], 'inbox')).created, false, 'found the second time');
      const [moved] = await session.move([page.changes[0]!.serverId], folder);
      assert.match(moved!, /:INBOX\/Undeliverable$/);
      assert.equal((await servers.messagesIn(user.address, 'INBOX/Undeliverable')).length, 1);
      assert.equal((await servers.messagesIn(user.address, 'INBOX')).length, 0);

      const sentId = messageId('sent');
      const mime = Buffer.from(message({ from: user.address, to: [user.address], subject: 'sent', messageId: sentId }));
      assert.equal(await session.findSent(sentId), false);
      assert.equal(await session.send({ mime, saveCopy: true }), undefined);
      assert.equal(await session.findSent(sentId), true);
      assert.equal(await session.findSent(sentId.replace('>', 'x>')), false, 'only the exact Message-ID');
    } finally {
      await session.close?.();
    }
  });

  test('a wrong IMAP password, a wrong SMTP password and a certificate for another name are permanent, with the server\'s words', async () => {
    const user = await servers.addUser('refused');
    const wrongImap = connector({}, 'not-the-password');
    const imapSession = await wrongImap.open(user.address);
    const imapError = await imapSession.listChanges('inbox', null, 1).then(() => null, (e: unknown) => e);
    await imapSession.close?.();
    const imap = wrongImap.classify(imapError);
    assert.deepEqual([imap.kind, imap.code], ['permanent', 'imap.auth']);
    assert.match(imap.serverResponse ?? '', /AUTHENTICATIONFAILED|Authentication failed/);
    assert.match(imap.fix ?? '', /master user/);

    const wrongSmtp = connector({ useSameSettingsForOutgoing: false, outgoingUsername: user.address } as Partial<Profile>, servers.master.password, 'not-the-password');
    const smtpSession = await wrongSmtp.open(user.address);
    const smtpError = await smtpSession.send({ mime: Buffer.from(message({ from: user.address, to: [user.address], subject: 'x', messageId: messageId('x') })), saveCopy: true }).then(() => null, (e: unknown) => e);
    await smtpSession.close?.();
    const smtp = wrongSmtp.classify(smtpError);
    assert.deepEqual([smtp.kind, smtp.code], ['permanent', 'smtp.auth']);
    assert.match(smtp.serverResponse ?? '', /535/);

    const wrongName = connector({ incomingServer: `imaps://wrong.liaison.test:${servers.ports.imaps}` });
    const nameSession = await wrongName.open(user.address);
    const nameError = await nameSession.listChanges('inbox', null, 1).then(() => null, (e: unknown) => e);
    await nameSession.close?.();
    const name = wrongName.classify(nameError);
    assert.deepEqual([name.kind, name.code], ['permanent', 'tls.name-mismatch']);
    assert.match(name.message, /mail\.liaison\.test/);
  });
});
