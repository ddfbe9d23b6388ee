import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr } from '../../src/xml/parse.js';
import { find, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const BOB = 'bob@contoso.test';
const FORMATS = ['EwsId', 'EwsLegacyId', 'EntryId', 'HexEntryId', 'StoreId', 'OwaId'] as const;

// What Exchange answered to ConvertId for one folder (grommunio/gromox doc/ews_spec.rst, "Observations on
// Exchange Server's EWS", 2023-12-07): the same folder as EwsLegacyId, HexEntryId, StoreId and EwsId.
const EXCHANGE = {
  legacy: 'AQAQAHVzZXI1QGdyYW1tAS5uZXQALgAAA4WGgxq+2cFBlMVdPYkBdZkBAAEAAAGlGHtvvNzqHtA8VlcAAAMPAAAA',
  legacyMailbox: 'user5@grammm.net',
  hex: '000000008586831ABED9C14194C55D3D89017599010001000000A5187B6FBCDCEA1ED03C565700000000000F0000',
  store: 'LgAAAACFhoMavtnBQZTFXT2JAXWZAQABAAAApRh7b7zc6h7QPFZXAAAAAAAPAAAB',
  ewsId: 'AQMkADdlNjE2NzU0LTI3OGQtNDliYgAtODA1YS0wZjc4NjRmZTNkYzUALgAAA4WGgxq+2cFBlMVdPYkBdZkBAAEAAAGlGHtvvNzqHtA8VlcAAAMPAAAA',
};
// exchangelib's own suite (tests/test_protocol.py, test_convert_id): a message's EwsId from its test mailbox.
const EXCHANGELIB_ID =
  'AAMkADQyYzZmYmUxLTJiYjItNDg2Ny1iMzNjLTIzYWE1NDgxNmZhNABGAAAAAADUebQDarW2Q7G2Ji8hKofPBwAl9iKCsfCfSa9cmjh+JCrCAAPJcuhjAAB0l+JSKvzBRYP+FXGewReXAABj6DrMAAA=';
// A folder id recorded from Exchange Online, run-length compressed ("AQMk"; fixtures/real-captures/
// evolution-ews-traces/Exchange2007_SP1/camel/folder/create_distinguished_folder_subfolder).
const COMPRESSED_FOLDER_ID = 'AQMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwAuAAADUkllSq5hlEyRPjFSL6H4JQEA2RgAmUKUoEqcjZHsWHtm+wAAAgENAAAA';

describe('sandbox EWS: ConvertId of Exchange ids', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  const convert = async (format: string, id: string, to: string, mailbox = BOB) =>
    responseMessages(
      (
        await s.ews(
          `<m:ConvertId DestinationFormat="${to}"><m:SourceIds><t:AlternateId Format="${format}" Id="${id}" Mailbox="${mailbox}"/></m:SourceIds></m:ConvertId>`,
          { as: BOB },
        )
      ).doc(),
    )[0]!;
  const converted = async (format: string, id: string, to: string, mailbox = BOB) => {
    const message = await convert(format, id, to, mailbox);
    assert.equal(responseCode(message), 'NoError', `${format} → ${to}`);
    const alternate = find(message, 'AlternateId')[0]!;
    assert.equal(attr(alternate, 'Format'), to);
    return { id: attr(alternate, 'Id')!, mailbox: attr(alternate, 'Mailbox')! };
  };

  test('gives the answers Exchange gave for the same id', async () => {
    assert.equal((await converted('EwsLegacyId', EXCHANGE.legacy, 'HexEntryId', EXCHANGE.legacyMailbox)).id, EXCHANGE.hex);
    assert.equal((await converted('EwsLegacyId', EXCHANGE.legacy, 'StoreId', EXCHANGE.legacyMailbox)).id, EXCHANGE.store);
    assert.equal((await converted('StoreId', EXCHANGE.store, 'HexEntryId', EXCHANGE.legacyMailbox)).id, EXCHANGE.hex);
    const legacy = await converted('HexEntryId', EXCHANGE.hex, 'EwsLegacyId', EXCHANGE.legacyMailbox);
    assert.deepEqual(legacy, { id: EXCHANGE.legacy, mailbox: EXCHANGE.legacyMailbox });
  });

  test('any well-formed id converts to every format and back', async () => {
    const entryIds = [Buffer.from(EXCHANGE.hex, 'hex').toString('base64')];
    // The entry id inside exchangelib's EwsId: after the 4-byte header, the 36-character GUID, the
    // instruction byte and the 2-byte length.
    entryIds.push(Buffer.from(EXCHANGELIB_ID, 'base64').subarray(43).toString('base64'));
    for (const entryId of entryIds) {
      for (const format of FORMATS) {
        const there = await converted('EntryId', entryId, format);
        assert.equal(there.mailbox, BOB);
        const back = await converted(format, there.id, 'EntryId');
        assert.equal(back.id, entryId, `EntryId → ${format} → EntryId`);
        assert.equal((await converted(format, there.id, format)).id, there.id, `${format} → ${format}`);
      }
    }
  });

  test("an EwsId names its mailbox by GUID: the answer carries that mailbox's address", async () => {
    const mine = await converted('HexEntryId', EXCHANGE.hex, 'EwsId');
    assert.match(mine.id, /^A[AQ]Mk/, 'by mailbox GUID, run-length compressed when that is shorter');
    const again = await converted('EwsId', mine.id, 'HexEntryId', 'someone@example.com');
    assert.deepEqual(again, { id: EXCHANGE.hex, mailbox: BOB });
    // A real mailbox's ids name a GUID the sandbox has no mailbox for (Exchange looks it up: ErrorNonExistentMailbox).
    const guids = ['42c6fbe1-2bb2-4867-b33c-23aa54816fa4', '7e616754-278d-49bb-805a-0f7864fe3dc5', '9362c853-fa03-45d1-9d7c-ef09db45f783'];
    for (const [i, id] of [EXCHANGELIB_ID, EXCHANGE.ewsId, COMPRESSED_FOLDER_ID].entries()) {
      const answer = await convert('EwsId', id, 'EntryId');
      assert.deepEqual([responseCode(answer), find(answer, 'MessageText')[0]?.text], ['ErrorNonExistentMailbox', 'No mailbox with such guid.'], id);
      assert.equal(find(answer, 'Value')[0]?.text, guids[i]);
    }
    // Writing an EwsId needs the mailbox Mailbox names.
    assert.equal(responseCode(await convert('HexEntryId', EXCHANGE.hex, 'EwsId', 'nobody@contoso.test')), 'ErrorNonExistentMailbox');
  });

  test('ids that are not well-formed stay ErrorInvalidIdMalformed', async () => {
    const cases: Array<[string, string]> = [
      ['EwsId', 'AAMkAGZhN2IxYTA0LWNiNzItN='], // the ConvertId page's example, cut short
      ['EwsId', 'AAMk='], // exchangelib's malformed attachment id
      ['EwsId', EXCHANGELIB_ID.slice(0, -8) + 'AAAA'], // entry id shorter than its length says
      ['EwsId', EXCHANGE.legacy], // an EwsLegacyId given as EwsId
      ['EwsLegacyId', EXCHANGE.ewsId],
      ['HexEntryId', EXCHANGE.hex.slice(1)],
      ['HexEntryId', 'ZZ'],
      ['EntryId', 'not base64!'],
      ['StoreId', EXCHANGE.store.slice(0, -4)],
      ['OwaId', 'PSF.' + EXCHANGE.store],
    ];
    for (const [format, id] of cases) {
      assert.equal(responseCode(await convert(format, id, 'EntryId')), 'ErrorInvalidIdMalformed', `${format} ${id}`);
    }
  });

  test("the sandbox's own ids still convert to every format and back", async () => {
    const inbox = await s.control<Array<{ itemId: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    const id = inbox.json[0]!.itemId;
    for (const format of FORMATS) {
      const there = await converted('EwsId', id, format);
      assert.equal((await converted(format, there.id, 'EwsId')).id, id, format);
    }
  });

  testTraffic(() => s.records, 30);
});
