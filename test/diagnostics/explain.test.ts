import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explain401, offeredSchemes } from '../../src/diagnostics/explain.js';

test('offeredSchemes reads IIS header lines and combined challenges', () => {
  assert.deepEqual([...offeredSchemes(['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"'])], ['NEGOTIATE', 'NTLM', 'BASIC']);
  assert.deepEqual([...offeredSchemes(['Basic realm="a, b", NTLM'])].sort(), ['BASIC', 'NTLM']);
  assert.deepEqual([...offeredSchemes(['NTLM TlRMTVNTUAACAAAA'])], ['NTLM']);
  assert.deepEqual([...offeredSchemes([])], []);
});

test('a 401 without Basic while the profile uses Basic: Basic is off, and NTLM is the way out when offered', () => {
  const d = explain401(['Negotiate', 'NTLM'], 'basic', 'svc@contoso.test', 'mail.contoso.test');
  assert.equal(d.code, 'basic-auth-disabled');
  assert.match(d.summary, /Basic authentication is not enabled in Exchange/);
  assert.match(d.fix ?? '', /switch the profile to NTLM/);
  assert.deepEqual(d.details, ['WWW-Authenticate: Negotiate, NTLM']);
  const noNtlm = explain401(['Bearer'], 'basic', 'svc', 'h');
  assert.doesNotMatch(noNtlm.fix ?? '', /NTLM/);
});

test('a 401 with the method offered is a wrong user name or password; for NTLM, Extended Protection is named', () => {
  assert.equal(explain401(['Basic realm="x"', 'NTLM'], 'basic', 'svc', 'h').code, 'bad-credentials');
  const ntlm = explain401(['Negotiate', 'NTLM'], 'ntlm', 'CONTOSO\\svc', 'h');
  assert.equal(ntlm.code, 'ntlm-rejected');
  assert.match(ntlm.summary, /Extended Protection/);
  assert.equal(explain401(['Basic realm="x"'], 'ntlm', 'svc', 'h').code, 'ntlm-not-offered');
});
