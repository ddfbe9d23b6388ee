/**
 * Microsoft's EWS schemas (schemas/ews/), compiled once with libxml2 (as WebAssembly), to check the EWS parts
 * of a SOAP envelope: every header block and the body's payload in the EWS namespaces.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ParseOption,
  XmlBufferInputProvider,
  XmlDocument,
  type XmlElement as LibXmlElement,
  xmlRegisterInputProvider,
  XmlValidateError,
  XsdValidator,
} from 'libxml2-wasm';
import { NS } from './namespaces.js';

/** The schema folder, found from this file in src/ (tests) or dist/ (the built command) alike. */
export const EWS_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/ews/', import.meta.url));
const VIRTUAL_ROOT = 'liaison-schemas/';
const SCHEMA_FILES = ['ews.xsd', 'xml.xsd', 'messages.xsd', 'types.xsd'];

export interface SchemaViolation {
  message: string;
  line: number;
  column: number;
}

// Parsing for validation never touches the network or external entities; the documents were already checked
// by the safe parser (no DTD), this is a second lock on the same door.
const PARSE_OPTIONS = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE;

let compiled: XsdValidator | null = null;

function validator(): XsdValidator {
  if (compiled) return compiled;
  // Only the schema files are readable by libxml2, from memory: nothing a document names can reach the disk.
  const files: Record<string, Uint8Array> = {};
  for (const name of SCHEMA_FILES) files[VIRTUAL_ROOT + name] = readFileSync(EWS_SCHEMA_DIR + name);
  xmlRegisterInputProvider(new XmlBufferInputProvider(files));
  const schemaDoc = XmlDocument.fromBuffer(files[`${VIRTUAL_ROOT}ews.xsd`]!, { url: `${VIRTUAL_ROOT}ews.xsd`, option: PARSE_OPTIONS });
  try {
    compiled = XsdValidator.fromDoc(schemaDoc);
  } finally {
    schemaDoc.dispose();
  }
  return compiled;
}

let operations: ReadonlySet<string> | null = null;

/**
 * The request elements of the EWS operations in services.wsdl (the messages-namespace part of each input
 * message): the local names a request's SOAP Body may start with.
 */
export function ewsRequestElements(): ReadonlySet<string> {
  if (operations) return operations;
  const wsdl = readFileSync(`${EWS_SCHEMA_DIR}services.wsdl`, 'utf8');
  const inputs = wsdl.matchAll(/<wsdl:message name="\w+SoapIn">([\s\S]*?)<\/wsdl:message>/g);
  operations = new Set([...inputs].map((m) => /element="tns:(\w+)"/.exec(m[1]!)?.[1]).filter((name): name is string => name !== undefined));
  return operations;
}

/** Compiles the schemas now (about half a second) rather than on the first request. */
export function loadEwsSchema(): void {
  validator();
}

function isEws(element: LibXmlElement): boolean {
  const ns = element.namespaceUri;
  return ns === NS.messages || ns === NS.types;
}

/**
 * Validates the EWS header blocks and body payload of a SOAP envelope. Returns the first violation, or null.
 */
export function validateEwsEnvelope(text: string): SchemaViolation | null {
  const xsd = validator();
  const doc = XmlDocument.fromString(text, { option: PARSE_OPTIONS });
  try {
    const envelope = doc.root;
    const parts: LibXmlElement[] = [];
    for (const section of envelope.find('./*')) {
      const sectionElement = section as LibXmlElement;
      if (sectionElement.namespaceUri !== NS.soap) continue;
      for (const part of sectionElement.find('./*')) {
        const element = part as LibXmlElement;
        if (isEws(element)) parts.push(element);
      }
    }
    for (const part of parts) {
      try {
        xsd.validate(part);
      } catch (error) {
        if (error instanceof XmlValidateError) {
          const detail = error.details[0];
          return { message: (detail?.message ?? error.message).trim(), line: detail?.line ?? 0, column: detail?.col ?? 0 };
        }
        throw error;
      }
    }
    return null;
  } finally {
    doc.dispose();
  }
}
