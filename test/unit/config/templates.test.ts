import { describe, expect, it } from 'vitest';
import { type Provider, ProviderSchema } from '#shared/config/schema.ts';
import {
  type LimitOf,
  maxRenderedLength,
  parseTemplate,
  renderTemplate,
  TemplateSyntaxError,
  templateLimits,
  templateVariables,
} from '#shared/config/templates.ts';
import { ForbiddenError } from '#shared/errors.ts';
import { oidcProvider } from '../../fixtures/config/documents.ts';

const limits: LimitOf = (variable) => (variable === 'claims.tenant' ? 8 : 20);
const context = {
  claims: { tenant: 'acme', sub: 'user-1', groups: ['a', 'b'], email_verified: true },
  provider: { id: 'mobile' },
  mapping: { id: 'tenant-data' },
};

describe('parseTemplate', () => {
  it('splits text and variables, allowing whitespace inside the braces', () => {
    // Act
    const result = parseTemplate('t/{{ claims.tenant }}/{{provider.id}}-{{mapping.id}}');

    // Assess
    expect(result).toEqual({
      ok: true,
      parts: [
        { kind: 'text', text: 't/' },
        { kind: 'variable', name: 'claims.tenant' },
        { kind: 'text', text: '/' },
        { kind: 'variable', name: 'provider.id' },
        { kind: 'text', text: '-' },
        { kind: 'variable', name: 'mapping.id' },
      ],
    });
  });

  it('accepts claim names with colons and URL namespaces', () => {
    expect(
      templateVariables('{{claims.custom:tenant}}{{claims.https://example.com/roles}}'),
    ).toEqual(['claims.custom:tenant', 'claims.https://example.com/roles']);
  });

  it('leaves IAM policy variables such as aws:username alone', () => {
    // Prepare
    const iamVariable = ['$', '{aws:username}'].join('');

    // Act
    const result = parseTemplate(`home/${iamVariable}/*`);

    // Assess
    expect(result).toEqual({ ok: true, parts: [{ kind: 'text', text: `home/${iamVariable}/*` }] });
  });

  it.each([
    ['an unclosed "{{"', 'a/{{claims.sub', /"\{\{" at character 3 is never closed/],
    ['a stray "}}"', 'a}}b', /"\}\}" at character 2 has no matching "\{\{"/],
    ['an unsupported expression', '{{ env.SECRET }}', /unsupported template expression/],
    ['a nested template', '{{claims.{{claims.sub}}}}', /unsupported template expression/],
    ['an empty expression', '{{}}', /unsupported template expression/],
  ])('rejects %s', (_case, template, message) => {
    // Act
    const result = parseTemplate(template);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.message).toMatch(message);
  });
});

describe('maxRenderedLength', () => {
  it('adds the static text to every variable at its maximum length', () => {
    expect(maxRenderedLength('t/{{claims.tenant}}/{{claims.sub}}/{{claims.tenant}}', limits)).toBe(
      2 + 8 + 1 + 20 + 1 + 8,
    );
  });

  it('throws a TemplateSyntaxError for a malformed template', () => {
    expect(() => maxRenderedLength('{{claims.sub', limits)).toThrow(TemplateSyntaxError);
  });
});

describe('renderTemplate', () => {
  it('substitutes claims, the provider id and the mapping id', () => {
    expect(
      renderTemplate(
        '{{claims.tenant}}:{{ claims.sub }}@{{provider.id}}/{{mapping.id}}',
        context,
        limits,
      ),
    ).toBe('acme:user-1@mobile/tenant-data');
  });

  it('accepts a value exactly at its maximum length', () => {
    // Prepare
    const claims = { tenant: 'x'.repeat(8) };

    // Act
    const rendered = renderTemplate('{{claims.tenant}}', { ...context, claims }, limits);

    // Assess
    expect(rendered).toBe('xxxxxxxx');
  });

  it.each([
    ['longer than its maximum', { tenant: 'x'.repeat(9) }, 'too_long'],
    ['missing', {}, 'missing'],
    ['not a string', { tenant: ['a', 'b'] }, 'not_string'],
    ['null', { tenant: null }, 'missing'],
  ])('fails closed with a 403 when the claim is %s', (_case, claims, problem) => {
    // Act
    const render = () => renderTemplate('t/{{claims.tenant}}', { ...context, claims }, limits);

    // Assess
    expect(render).toThrow(ForbiddenError);
    try {
      render();
    } catch (error) {
      expect(error).toMatchObject({
        code: 'ERR_FORBIDDEN',
        cause: { variable: 'claims.tenant', problem },
      });
    }
  });

  it('never reads inherited properties as claims', () => {
    expect(() =>
      renderTemplate('{{claims.constructor}}', { ...context, claims: {} }, limits),
    ).toThrow(ForbiddenError);
  });
});

describe('templateLimits', () => {
  it('uses the declared maxLength, else defaultClaimMaxLength, and the ids own lengths', () => {
    // Prepare
    const provider: Provider = ProviderSchema.parse(oidcProvider({ defaultClaimMaxLength: 40 }));

    // Act
    const limitOf = templateLimits(provider, 'tenant-data');

    // Assess
    expect(limitOf('claims.tenant')).toBe(64);
    expect(limitOf('claims.email')).toBe(40);
    expect(limitOf('provider.id')).toBe('mobile'.length);
    expect(limitOf('mapping.id')).toBe('tenant-data'.length);
  });
});
