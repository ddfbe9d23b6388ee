/**
 * SPNEGO (RFC 4178) as HTTP Negotiate carries it when Kerberos is not available: the client's NegTokenInit
 * (inside the GSS-API InitialContextToken) or NegTokenResp, and the server's NegTokenResp. A small DER reader
 * and writer, enough for these structures.
 */

export const OID_SPNEGO = '1.3.6.1.5.5.2';
export const OID_NTLM = '1.3.6.1.4.1.311.2.2.10';

export class DerError extends Error {}

export interface Tlv {
  tag: number;
  /** The whole element, tag and length included (the mechListMIC is computed over the encoded mechTypes). */
  raw: Buffer;
  value: Buffer;
}

export function readTlv(data: Buffer, at = 0): Tlv & { end: number } {
  if (at + 2 > data.length) throw new DerError('truncated element');
  const tag = data[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('long tags are not used here');
  let length = data[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > data.length) throw new DerError('bad length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + data[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > data.length) throw new DerError('element runs past the end');
  return { tag, raw: data.subarray(at, end), value: data.subarray(start, end), end };
}

export function readAll(data: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < data.length; ) {
    const tlv = readTlv(data, at);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

export function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, value]);
}

export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new DerError('empty OID');
  const parts = [Math.floor(value[0]! / 40), value[0]! % 40];
  let n = 0;
  for (const byte of value.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

export function encodeOid(oid: string): Buffer {
  const [a, b, ...rest] = oid.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** The parts of a client's SPNEGO token that matter here. */
export interface ClientToken {
  kind: 'init' | 'resp';
  /** NegTokenInit: the mechanisms the client offers, in its order of preference. */
  mechTypes: string[];
  /** NegTokenInit: the DER of mechTypes, for the mechListMIC. */
  mechTypesDer: Buffer | null;
  /** The mechanism token: mechToken of a NegTokenInit, responseToken of a NegTokenResp. */
  mechToken: Buffer | null;
  mechListMic: Buffer | null;
}

function contextFields(sequence: Tlv): Map<number, Tlv> {
  if (sequence.tag !== 0x30) throw new DerError('expected a SEQUENCE');
  const fields = new Map<number, Tlv>();
  for (const element of readAll(sequence.value)) {
    if ((element.tag & 0xe0) !== 0xa0) throw new DerError('expected context-specific fields');
    fields.set(element.tag & 0x1f, readTlv(element.value));
  }
  return fields;
}

/** Reads a client's Negotiate token; null when it is not SPNEGO (a raw NTLMSSP message, say). */
export function readClientToken(token: Buffer): ClientToken | null {
  if (token.length === 0) return null;
  if (token[0] === 0x60) {
    const app = readTlv(token);
    const oid = readTlv(app.value);
    if (oid.tag !== 0x06 || decodeOid(oid.value) !== OID_SPNEGO) return null;
    const inner = readTlv(app.value, oid.end);
    if (inner.tag !== 0xa0) throw new DerError('expected a NegTokenInit');
    const fields = contextFields(readTlv(inner.value));
    const mechTypes = fields.get(0);
    if (!mechTypes || mechTypes.tag !== 0x30) throw new DerError('NegTokenInit without mechTypes');
    return {
      kind: 'init',
      mechTypes: readAll(mechTypes.value).map((m) => decodeOid(m.value)),
      mechTypesDer: mechTypes.raw,
      mechToken: fields.get(2)?.value ?? null,
      mechListMic: fields.get(3)?.value ?? null,
    };
  }
  if (token[0] === 0xa1) {
    const fields = contextFields(readTlv(readTlv(token).value));
    return { kind: 'resp', mechTypes: [], mechTypesDer: null, mechToken: fields.get(2)?.value ?? null, mechListMic: fields.get(3)?.value ?? null };
  }
  return null;
}

export const NEG_STATE = { acceptCompleted: 0, acceptIncomplete: 1, reject: 2, requestMic: 3 } as const;

/** The server's NegTokenResp. */
export function writeServerToken(negState: number, options: { supportedMech?: string; responseToken?: Buffer; mechListMic?: Buffer } = {}): Buffer {
  const fields = [tlv(0xa0, tlv(0x0a, Buffer.from([negState])))];
  if (options.supportedMech) fields.push(tlv(0xa1, encodeOid(options.supportedMech)));
  if (options.responseToken) fields.push(tlv(0xa2, tlv(0x04, options.responseToken)));
  if (options.mechListMic) fields.push(tlv(0xa3, tlv(0x04, options.mechListMic)));
  return tlv(0xa1, tlv(0x30, Buffer.concat(fields)));
}

/**
 * The mechanism token of a server's NegTokenResp (the NTLM CHALLENGE a server wraps in SPNEGO), or null when the
 * token is not a NegTokenResp.
 */
export function readServerToken(token: Buffer): { negState: number | null; responseToken: Buffer | null } | null {
  if (token[0] !== 0xa1) return null;
  const fields = contextFields(readTlv(readTlv(token).value));
  const state = fields.get(0);
  const response = fields.get(2);
  return {
    negState: state && state.tag === 0x0a && state.value.length === 1 ? state.value[0]! : null,
    responseToken: response && response.tag === 0x04 ? response.value : null,
  };
}
