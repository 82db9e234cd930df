/**
 * The little DOM plumbing the SAML checks and the metadata reader need, on @xmldom/xmldom (the
 * parser xml-crypto and node-saml use). Parsing is strict: any parser error or warning is a
 * malformed document. It sits below config and saml, so both can read XML without importing
 * each other.
 */
import { DOMParser } from '@xmldom/xmldom';

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
} as const;

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

export class XmlParseError extends Error {}

/** Parses XML; throws XmlParseError on anything the parser complains about. */
export function parseXml(xml: string): Document {
  const fail = (message: string): never => {
    throw new XmlParseError(message);
  };
  const parser = new DOMParser({
    errorHandler: { warning: fail, error: fail, fatalError: fail },
  });
  return parser.parseFromString(xml, 'text/xml') as unknown as Document;
}

/** Element children only (text, comments and whitespace skipped). */
export function childElements(node: Node): Element[] {
  const out: Element[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) out.push(child as Element);
  }
  return out;
}

export function isElement(node: Node | null, ns: string, localName: string): node is Element {
  return (
    node !== null &&
    node.nodeType === ELEMENT_NODE &&
    (node as Element).namespaceURI === ns &&
    (node as Element).localName === localName
  );
}

/** Direct children with this namespace and local name. */
export function children(node: Node, ns: string, localName: string): Element[] {
  return childElements(node).filter((child) => isElement(child, ns, localName));
}

/** The one direct child of that name, or undefined when there is none or more than one. */
export function onlyChild(node: Node, ns: string, localName: string): Element | undefined {
  const found = children(node, ns, localName);
  return found.length === 1 ? found[0] : undefined;
}

/**
 * The element's whole text: every text and CDATA descendant joined. A comment inside the text
 * (`admin@corp.com<!---->.evil.com`) never splits it into a shorter first node.
 */
export function wholeText(element: Element): string {
  let text = '';
  const stack: Node[] = [element];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) {
      text += node.nodeValue ?? '';
      continue;
    }
    const kids: Node[] = [];
    for (let child = node.firstChild; child !== null; child = child.nextSibling) kids.push(child);
    for (let index = kids.length - 1; index >= 0; index -= 1) stack.push(kids[index] as Node);
  }
  return text;
}

/** Every node of the document in document order, without recursion (deep documents are fine). */
export function* walk(root: Node): Generator<Node> {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    yield node;
    const kids: Node[] = [];
    for (let child = node.firstChild; child !== null; child = child.nextSibling) kids.push(child);
    for (let index = kids.length - 1; index >= 0; index -= 1) stack.push(kids[index] as Node);
  }
}

export function attribute(element: Element, name: string): string | undefined {
  return element.hasAttribute(name) ? (element.getAttribute(name) ?? undefined) : undefined;
}

/** A PEM certificate from the base64 body of an X509Certificate element. */
export function certificateToPem(body: string): string {
  const compact = body.replaceAll(/\s+/g, '');
  const lines = compact.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
