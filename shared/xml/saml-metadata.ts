/**
 * The SAML metadata reader. Config validation and the ACS both read IdP metadata through this one
 * function, so a document that validates is exactly what verifies responses; it lives below both
 * so that neither imports the other.
 */
import { attribute, certificateToPem, children, isElement, NS, parseXml, walk } from './dom.ts';

/**
 * What IdP metadata says about signing: every EntityDescriptor's entityID, and the certificates
 * of the signing KeyDescriptors (`use="signing"` or no `use`) of the IDPSSODescriptor of
 * `entityId`. Throws XmlParseError.
 */
export function metadataSigningCertificates(
  metadataXml: string,
  entityId: string,
): { entityIds: string[]; certificates: string[] } {
  const entityIds: string[] = [];
  const certificates: string[] = [];
  for (const node of walk(parseXml(metadataXml))) {
    if (isElement(node, NS.metadata, 'EntityDescriptor')) {
      entityIds.push(attribute(node, 'entityID') ?? '');
      continue;
    }
    if (!isElement(node, NS.metadata, 'IDPSSODescriptor')) continue;
    const owner = node.parentNode as Element | null;
    if (owner === null || attribute(owner, 'entityID') !== entityId) continue;
    for (const descriptor of children(node, NS.metadata, 'KeyDescriptor')) {
      const use = attribute(descriptor, 'use');
      if (use !== undefined && use !== 'signing') continue;
      for (const inner of walk(descriptor)) {
        if (isElement(inner, NS.dsig, 'X509Certificate')) {
          certificates.push(certificateToPem(inner.textContent ?? ''));
        }
      }
    }
  }
  return { entityIds, certificates };
}
