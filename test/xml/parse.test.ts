import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attr, child, parseXml, resolveQName, XmlParseError } from '../../src/xml/parse.js';
import { el, escapeAttribute, raw } from '../../src/xml/write.js';

describe('safe XML parsing', () => {
  test('reads namespaces, attributes, text and CDATA', () => {
    const root = parseXml('<?xml version="1.0"?><a:r xmlns:a="urn:a" xmlns="urn:d" x="1"><c a:y="2">t<![CDATA[<u>]]></c></a:r>');
    assert.deepEqual([root.ns, root.local, attr(root, 'x')], ['urn:a', 'r', '1']);
    const c = child(root, 'urn:d', 'c')!;
    assert.equal(c.text, 't<u>');
    assert.equal(attr(c, 'y', 'urn:a'), '2');
    assert.deepEqual(resolveQName(c, 'a:Type'), { ns: 'urn:a', local: 'Type' });
  });

  test('refuses a DTD, whatever it declares', () => {
    for (const doc of [
      '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
      '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
      '<!DOCTYPE r SYSTEM "http://example.test/r.dtd"><r/>',
    ]) {
      assert.throws(() => parseXml(doc), (e: unknown) => e instanceof XmlParseError && /DOCTYPE/.test(e.message));
    }
  });

  test('refuses undeclared entities, several roots, nothing at all, and XML that is not well-formed', () => {
    for (const doc of ['<r>&nbsp;</r>', '<r/><s/>', '', '<r><s></r>', 'plain text']) {
      assert.throws(() => parseXml(doc), XmlParseError, doc);
    }
    assert.equal(parseXml('<r>&lt;&amp;&#65;</r>').text, '<&A', 'the five predefined entities and character references are fine');
  });

  test('bounds size, depth and element count', () => {
    assert.throws(() => parseXml(`<r>${'x'.repeat(2000)}</r>`, { maxBytes: 1000 }), /at most 1000/);
    assert.throws(() => parseXml(`${'<d>'.repeat(50)}${'</d>'.repeat(50)}`, { maxDepth: 20 }), /deeper than 20/);
    assert.throws(() => parseXml(`<r>${'<e/>'.repeat(100)}</r>`, { maxElements: 50 }), /more than 50 elements/);
    assert.throws(() => parseXml(`<r ${Array.from({ length: 20 }, (_, i) => `a${i}="1"`).join(' ')}/>`, { maxAttributes: 10 }), /more than 10 attributes/);
  });

  test('a byte-order mark before the document is accepted', () => {
    assert.equal(parseXml('\ufeff<r/>').local, 'r');
  });
});

describe('XML writing', () => {
  test('escapes text and attributes, writes booleans and numbers, leaves out null', () => {
    const xml = el('a', { x: 'say "hi" & <bye>', y: null, z: 3 }, 'a<b & c>', false, 0, null, raw('<pre-made/>'));
    assert.equal(xml.serialized, '<a x="say &quot;hi&quot; &amp; &lt;bye&gt;" z="3">a&lt;b &amp; c&gt;false0<pre-made/></a>');
    assert.equal(el('empty').serialized, '<empty/>');
  });

  test('characters XML cannot carry are replaced, so the output always parses', () => {
    const xml = el('s', { v: 'bell\u0007' }, 'nul\u0000 and \ud800 lone surrogate');
    const parsed = parseXml(xml.serialized);
    assert.match(parsed.text, /\ufffd/);
    assert.equal(escapeAttribute('a\nb'), 'a&#10;b', 'newlines in attributes survive a round trip');
  });
});

test('additionalNamespaces binds a prefix the document uses without declaring it; its own declaration wins', () => {
  assert.throws(() => parseXml('<a><b i:nil="true"/></a>'), /unbound namespace prefix/);
  const bound = parseXml('<a><b i:nil="true"/></a>', {}, { additionalNamespaces: { i: 'urn:pre' } });
  assert.equal(bound.children[0]!.attributes[0]!.ns, 'urn:pre');
  assert.equal(bound.scope.i, 'urn:pre');
  const own = parseXml('<a xmlns:i="urn:own"><b i:nil="true"/></a>', {}, { additionalNamespaces: { i: 'urn:pre' } });
  assert.equal(own.children[0]!.attributes[0]!.ns, 'urn:own');
});
