/**
 * Semantic validation of a config document: the zod shape, then everything the shape cannot say
 * (unique ids, references, ARNs, STS limits computed with the longest allowed claim values,
 * template placement and variables, URLs, certificates). Every problem is collected, and the
 * semantic checks run on every provider and mapping whose own shape is valid, so one typo does
 * not hide the rest.
 */
import type { z } from 'zod';
import { formatConfigPath, type PathSegment } from '#shared/config/path.ts';
import {
  ConfigFileSchema,
  IdentityPoolSchema,
  MappingSchema,
  type Provider,
  ProviderSchema,
  type TvmConfig,
} from '#shared/config/schema.ts';
import { ConfigInvalidError, type ConfigProblem } from '#shared/errors.ts';
import { checkAccounts } from './accounts.ts';
import { checkMapping } from './mappings.ts';
import { type Finding, isRecord, type Report } from './messages.ts';
import { checkIdentityPools } from './pools.ts';
import { checkIssuerTags, checkProvider } from './providers.ts';
import { describeIssue, issuesToFindings } from './shape.ts';
import { misplacedTemplates } from './templates.ts';

export interface ValidateOptions {
  /** Deployment stage; only `local` may use http:// loopback URLs. */
  stage: string;
  /** Clock for certificate validity; defaults to the current time. */
  now?: Date;
}

export type ValidationResult =
  | { ok: true; config: TvmConfig }
  | { ok: false; problems: ConfigProblem[] };

/** Deeper input is refused before zod sees it: the match tree is recursive and so is parsing. */
export const MAX_DOCUMENT_DEPTH = 64;

function findExcessiveNesting(input: unknown): Finding | undefined {
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: input, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PathSegment[] };
    if (path.length > MAX_DOCUMENT_DEPTH) {
      return {
        path,
        message: `the document nests more than ${MAX_DOCUMENT_DEPTH} levels deep here; the limit is ${MAX_DOCUMENT_DEPTH}`,
      };
    }
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        stack.push({ value: item, path: [...path, index] });
      }
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
}

interface Indexed<T> {
  index: number;
  value: T;
}

/** The providers and mappings whose own shape is valid, with their position in the file. */
function validEntries(input: unknown, parsed: TvmConfig | undefined) {
  if (parsed !== undefined) {
    return {
      providers: parsed.providers.map((value, index) => ({ index, value })),
      mappings: parsed.mappings.map((value, index) => ({ index, value })),
      identityPools: parsed.identityPools.map((value, index) => ({ index, value })),
    };
  }
  const raw = isRecord(input) ? input : {};
  const pick = <T>(items: unknown, schema: z.ZodType<T>): Indexed<T>[] =>
    (Array.isArray(items) ? items : []).flatMap((item, index) => {
      const result = schema.safeParse(item);
      return result.success ? [{ index, value: result.data }] : [];
    });
  return {
    providers: pick(raw.providers, ProviderSchema),
    mappings: pick(raw.mappings, MappingSchema),
    identityPools: pick(raw.identityPools, IdentityPoolSchema),
  };
}

function rawIds(input: unknown, section: 'providers' | 'mappings'): (string | undefined)[] {
  const items = isRecord(input) ? input[section] : undefined;
  return (Array.isArray(items) ? items : []).map((item) =>
    isRecord(item) && typeof item.id === 'string' ? item.id : undefined,
  );
}

function checkUniqueIds(input: unknown, section: 'providers' | 'mappings', report: Report): void {
  const first = new Map<string, number>();
  rawIds(input, section).forEach((id, index) => {
    if (id === undefined) return;
    const earlier = first.get(id);
    if (earlier === undefined) {
      first.set(id, index);
    } else {
      report(
        [section, index, 'id'],
        `duplicate id "${id}" (also ${section}[${earlier}].id); ids must be unique`,
      );
    }
  });
}
const SECTION_ORDER: Record<string, number> = {
  $schema: 0,
  version: 1,
  providers: 2,
  mappings: 3,
  identityPools: 4,
};

function documentOrder(a: Finding, b: Finding): number {
  const section = (finding: Finding) => SECTION_ORDER[String(finding.path[0])] ?? 5;
  const index = (finding: Finding) => (typeof finding.path[1] === 'number' ? finding.path[1] : -1);
  return section(a) - section(b) || index(a) - index(b);
}

/**
 * Validate a config document (already parsed from YAML or JSON). Returns the normalized config
 * (defaults filled), or every problem found, each with a path such as `mappings[2].sessionTags.team`.
 */
export function validateConfig(input: unknown, options: ValidateOptions): ValidationResult {
  const tooDeep = findExcessiveNesting(input);
  if (tooDeep !== undefined) {
    return {
      ok: false,
      problems: [{ path: formatConfigPath(tooDeep.path), message: tooDeep.message }],
    };
  }
  const findings: Finding[] = [];
  const report: Report = (path, message) => {
    findings.push({ path, message });
  };

  const parsed = ConfigFileSchema.safeParse(input, { error: describeIssue });
  if (!parsed.success) findings.push(...issuesToFindings(parsed.error.issues, input));
  const shapeProblemPaths = new Set(findings.map((finding) => formatConfigPath(finding.path)));
  for (const finding of misplacedTemplates(input)) {
    if (!shapeProblemPaths.has(formatConfigPath(finding.path))) findings.push(finding);
  }

  const now = options.now ?? new Date();
  const { providers, mappings, identityPools } = validEntries(
    input,
    parsed.success ? parsed.data : undefined,
  );
  checkUniqueIds(input, 'providers', report);
  checkUniqueIds(input, 'mappings', report);
  const providersById = new Map<string, Provider>();
  for (const { index, value } of providers) {
    if (!providersById.has(value.id)) providersById.set(value.id, value);
    checkProvider(value, ['providers', index], options.stage, now, report);
  }
  checkIssuerTags(providers, report);
  const providerIds = new Set(rawIds(input, 'providers').filter((id) => id !== undefined));
  for (const { index, value } of mappings) {
    checkMapping(value, ['mappings', index], providersById, providerIds, report);
  }
  checkIdentityPools(
    identityPools,
    providers,
    providersById,
    mappings.map(({ value }) => value),
    report,
  );
  if (parsed.success) checkAccounts(parsed.data.accounts, report);

  if (parsed.success && findings.length === 0) return { ok: true, config: parsed.data };
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const finding of findings.sort(documentOrder)) {
    const problem = { path: formatConfigPath(finding.path), message: finding.message };
    const key = `${problem.path}\u0000${problem.message}`;
    if (!seen.has(key)) problems.push(problem);
    seen.add(key);
  }
  return { ok: false, problems };
}

/**
 * What is valid but must be said before applying, printed by `config validate` and `apply`:
 * a native-mode SAML provider does not enforce the TVM's controls on whoever holds its assertion.
 */
export function configWarnings(config: TvmConfig): ConfigProblem[] {
  return config.providers.flatMap((provider, index) =>
    provider.type === 'saml' && provider.mode === 'native'
      ? [
          {
            path: formatConfigPath(['providers', index, 'mode']),
            message: `provider "${provider.id}" is in "native" mode: the browser holds an assertion addressed to AWS, and whoever holds it can call AssumeRoleWithSAML without the TVM, so the deny list, rate limits and session policies do not bind them; revoke reaches only sessions whose RoleSessionName or SourceIdentity an audit record shows. Use mode "chained" where those controls must hold (docs/saml.md, "Native mode").`,
          },
        ]
      : [],
  );
}

/** validateConfig for callers that fail closed: the config, or a ConfigInvalidError listing every problem. */
export function requireValidConfig(input: unknown, options: ValidateOptions): TvmConfig {
  const result = validateConfig(input, options);
  if (!result.ok) throw new ConfigInvalidError(result.problems);
  return result.config;
}
