/**
 * Keycloak's admin REST API, as an admin would click through the console: a realm with users and
 * groups, an OIDC client with a groups mapper, and SAML clients imported from SP metadata (the
 * console's "Import client", which is the client-description-converter endpoint).
 */
import type { Page } from 'playwright-core';
import { KEYCLOAK_ADMIN } from './keycloak.ts';

export interface RealmUser {
  username: string;
  password: string;
  email: string;
  groups: string[];
}

export type ClientAttributes = Record<string, string>;

export interface SamlClient {
  /** Keycloak's internal id (a UUID), for the admin API. */
  id: string;
  /** The client id, which for SAML is the SP entity id. */
  clientId: string;
  /** The attributes as the import left them, before anything was changed. */
  imported: ClientAttributes;
}

export class KeycloakAdmin {
  readonly url: string;
  #token: { value: string; until: number } | undefined;

  constructor(url: string) {
    this.url = url;
  }

  /** The admin token lives 60 s in the master realm: take a new one well before that. */
  async #bearer(): Promise<string> {
    if (this.#token !== undefined && this.#token.until > Date.now()) return this.#token.value;
    const response = await fetch(`${this.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'admin-cli',
        username: KEYCLOAK_ADMIN.username,
        password: KEYCLOAK_ADMIN.password,
      }),
    });
    if (!response.ok) throw new Error(`Keycloak admin login: ${response.status}`);
    const { access_token: value } = (await response.json()) as { access_token: string };
    this.#token = { value, until: Date.now() + 30_000 };
    return value;
  }

  /** One admin call under /admin/realms; any status ≥ 300 throws with Keycloak's answer. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<Response> {
    const response = await fetch(`${this.url}/admin/realms${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.#bearer()}`, 'content-type': contentType },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    if (response.status >= 300) {
      throw new Error(`Keycloak ${method} ${path}: ${response.status} ${await response.text()}`);
    }
    return response;
  }

  async json<T>(path: string): Promise<T> {
    return (await (await this.call('GET', path)).json()) as T;
  }

  /** POSTs a representation and answers the new object's id, from the Location header. */
  async create(path: string, representation: unknown): Promise<string> {
    const response = await this.call('POST', path, representation);
    const id = response.headers.get('location')?.split('/').pop();
    if (id === undefined || id === '') throw new Error(`Keycloak POST ${path}: no Location`);
    return id;
  }
}

/** A realm with groups and users (password set, profile complete, so no first-login form). */
export async function createRealm(
  admin: KeycloakAdmin,
  realm: string,
  setup: { groups: string[]; users: RealmUser[] },
): Promise<void> {
  await admin.call('POST', '', { realm, enabled: true });
  for (const name of setup.groups) await admin.create(`/${realm}/groups`, { name });
  for (const user of setup.users) {
    await admin.create(`/${realm}/users`, {
      username: user.username,
      email: user.email,
      firstName: user.username,
      lastName: 'Interop',
      enabled: true,
      emailVerified: true,
      credentials: [{ type: 'password', value: user.password, temporary: false }],
      groups: user.groups.map((group) => `/${group}`),
    });
  }
}

/**
 * A public OIDC client (code flow with PKCE, and the direct grant) whose ID token carries
 * `groups`: the group membership mapper, with "Full group path" off for bare names.
 */
export async function createOidcClient(
  admin: KeycloakAdmin,
  realm: string,
  client: { clientId: string; redirectUri: string },
): Promise<string> {
  return admin.create(`/${realm}/clients`, {
    clientId: client.clientId,
    protocol: 'openid-connect',
    publicClient: true,
    standardFlowEnabled: true,
    directAccessGrantsEnabled: true,
    redirectUris: [client.redirectUri],
    attributes: { 'pkce.code.challenge.method': 'S256' },
    protocolMappers: [
      {
        name: 'groups',
        protocol: 'openid-connect',
        protocolMapper: 'oidc-group-membership-mapper',
        config: {
          'claim.name': 'groups',
          'full.path': 'false',
          'id.token.claim': 'true',
          'access.token.claim': 'false',
          'userinfo.token.claim': 'true',
        },
      },
    ],
  });
}

/** The console's "Import client": Keycloak parses the SP metadata, then the client is saved. */
export async function importSamlClient(
  admin: KeycloakAdmin,
  realm: string,
  spMetadataXml: string,
): Promise<SamlClient> {
  const converted = await admin.call(
    'POST',
    `/${realm}/client-description-converter`,
    spMetadataXml,
    'application/xml',
  );
  const representation = (await converted.json()) as { clientId: string };
  const id = await admin.create(`/${realm}/clients`, representation);
  const saved = await admin.json<{ attributes: ClientAttributes }>(`/${realm}/clients/${id}`);
  return { id, clientId: representation.clientId, imported: { ...saved.attributes } };
}

/** Changes some attributes of a client and keeps the others. */
export async function setClientAttributes(
  admin: KeycloakAdmin,
  realm: string,
  id: string,
  attributes: ClientAttributes,
): Promise<void> {
  const client = await admin.json<{ attributes: ClientAttributes }>(`/${realm}/clients/${id}`);
  await admin.call('PUT', `/${realm}/clients/${id}`, {
    ...client,
    attributes: { ...client.attributes, ...attributes },
  });
}

/**
 * The two mappers the guide tells an admin to add: the groups (Keycloak's "Group list" mapper
 * with the attribute name its form pre-fills, `member`), and the email address.
 */
export async function addSamlMappers(
  admin: KeycloakAdmin,
  realm: string,
  id: string,
): Promise<void> {
  const models = `/${realm}/clients/${id}/protocol-mappers/models`;
  await admin.create(models, {
    name: 'groups',
    protocol: 'saml',
    protocolMapper: 'saml-group-membership-mapper',
    config: {
      'attribute.name': 'member',
      'attribute.nameformat': 'Basic',
      single: 'true',
      'full.path': 'false',
    },
  });
  await admin.create(models, {
    name: 'email',
    protocol: 'saml',
    protocolMapper: 'saml-user-property-mapper',
    config: {
      'user.attribute': 'email',
      'attribute.name': 'email',
      'attribute.nameformat': 'Basic',
    },
  });
}

/** The realm's SAML IdP metadata, as an admin downloads it for the SP. */
export async function idpMetadataXml(url: string, realm: string): Promise<string> {
  const response = await fetch(`${url}/realms/${realm}/protocol/saml/descriptor`);
  if (!response.ok) throw new Error(`Keycloak IdP metadata: ${response.status}`);
  return response.text();
}

/** Fills in Keycloak's login form (keycloak.v2 theme) and submits it. */
export async function signInAtKeycloak(
  page: Page,
  username: string,
  password: string,
): Promise<void> {
  await page.waitForSelector('#username', { timeout: 30_000 });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#kc-login');
}
