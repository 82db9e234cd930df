/** Config documents in the file format (before parsing), for store and CLI tests. */
export interface RawConfig {
  version: 1;
  providers: Record<string, unknown>[];
  mappings: Record<string, unknown>[];
}

export function oidcProvider(
  id = 'mobile',
  issuer = 'https://issuer.example.com',
): Record<string, unknown> {
  return {
    id,
    type: 'oidc',
    issuer,
    audiences: ['mobile-app'],
    claims: { groups: { type: 'list' } },
  };
}

export function mapping(
  id: string,
  priority: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    provider: 'mobile',
    priority,
    match: { claim: 'groups', op: 'contains', value: id },
    roleArn: `arn:aws:iam::123456789012:role/tvm/${id}`,
    sessionTags: { team: id },
    ...extra,
  };
}

export function sampleConfig(mappingCount = 2, tag = 'v1'): RawConfig {
  return {
    version: 1,
    providers: [oidcProvider()],
    mappings: Array.from({ length: mappingCount }, (_, index) =>
      mapping(`m${index}`, 100 + index, { description: `${tag} mapping ${index}` }),
    ),
  };
}
