/**
 * The test Dovecot and Postfix themselves: mail sent to Postfix's MX port lands in the Dovecot user's Maildir, an
 * unknown recipient is refused with Postfix's 550, and the master user logs in over IMAP for a user.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';

describe('the test mail servers', mailServersSkip(), () => {
  let servers: MailServers;
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => servers?.stop());

  test('Postfix delivers to a Dovecot user by LMTP, and refuses unknown users with 550', async () => {
    const alice = await servers.addUser('alice');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [alice.address] }, 'From: carla@fabrikam.test\r\nSubject: Hello\r\nMessage-ID: <h1@fabrikam.test>\r\n\r\nHi\r\n.a line with a dot\r\n');
    const [file] = await servers.waitForMail(alice.address, 1);
    const stored = await readFile(file!, 'utf8');
    assert.match(stored, /Message-ID: <h1@fabrikam.test>/);
    assert.match(stored, /\n\.a line with a dot/);
    await assert.rejects(servers.deliver({ from: 'carla@fabrikam.test', to: ['nobody@liaison.test'] }, 'Subject: x\r\n\r\nx\r\n'), /550 5\.1\.1 .*User unknown/);
  });

  test('the master user logs in for a user over IMAPS, with a certificate for the test host signed by the test CA', async () => {
    const bob = await servers.addUser('bob');
    const socket = connect({ host: '127.0.0.1', port: servers.ports.imaps, servername: servers.host, ca: [servers.caPem] });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 100 && !pattern.test(text); i += 1) await new Promise((r) => setTimeout(r, 50));
      assert.match(text, pattern);
    };
    await until(/\* OK/);
    socket.write(`a1 LOGIN "${bob.address}${servers.master.separator}${servers.master.username}" "${servers.master.password}"\r\n`);
    await until(/a1 OK/);
    socket.write('a2 LIST "" "*"\r\n');
    await until(/a2 OK/);
    assert.match(text, /\\Sent\) "\/" Sent/);
    socket.write('a3 LOGIN x y\r\n');
    socket.end('a4 LOGOUT\r\n');
  });
});
