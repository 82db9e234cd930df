/**
 * Config validation, by concern under validate/: the document walk and entry points
 * (document.ts), zod issue wording (shape.ts), providers, mappings, session policies, match
 * trees, templates, and the message helpers they share. STS and IAM patterns live in sts.ts.
 */
export { formatConfigPath, type PathSegment, parseConfigPath } from './path.ts';
export {
  configWarnings,
  MAX_DOCUMENT_DEPTH,
  requireValidConfig,
  type ValidateOptions,
  type ValidationResult,
  validateConfig,
} from './validate/document.ts';
export { SAML_NAME_ID_CLAIMS } from './validate/providers.ts';
export { templateClaimNames } from './validate/templates.ts';
