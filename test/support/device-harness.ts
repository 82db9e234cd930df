/**
 * The device flow in-process: the login harness (SAML function, login function, one core, one
 * clock) plus the device routes with an in-memory device store and their own rate limiter.
 */
import { inflateRawSync } from 'node:zlib';
import { expect } from 'vitest';
import { withHttpStack } from '#functions/http/middleware.ts';
import { deviceRoute } from '#functions/login/device.ts';
import { DEVICE_GRANT_TYPE, type DeviceDeps } from '#shared/login/device.ts';
import { parseXml } from '#shared/xml/dom.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import {
  type HttpAnswer,
  type HttpCall,
  type LoginHarness,
  type StartedLogin,
  startLoginHarness,
} from './login-harness.ts';
import { MemoryDeviceStore } from './memory-device-store.ts';
import { MemoryRateLimiter } from './memory-guards.ts';
import { SAML_TEST } from './saml-config.ts';

export interface DeviceHarness extends LoginHarness {
  devices: MemoryDeviceStore;
  limiter: MemoryRateLimiter;
  device: DeviceDeps;
  callDevice(call: HttpCall): Promise<HttpAnswer>;
  authorize(form?: Record<string, string>, sourceIp?: string): Promise<HttpAnswer>;
  /** POST /v1/device with the typed code. */
  enter(userCode: string, sourceIp?: string): Promise<HttpAnswer>;
  /** Follows the 302 of enter() to the SAML login: the started login, as the browser holds it. */
  startDevice(location: string): Promise<StartedLogin>;
  /** The confirm page's token and browser cookie, read off the ACS answer. */
  confirmForm(answer: HttpAnswer): { token: string; cookie: string; action: string };
  confirm(form: Record<string, string>, cookie?: string): Promise<HttpAnswer>;
  poll(deviceCode: string, form?: Record<string, string>): Promise<HttpAnswer>;
  /** authorize ▸ type the code ▸ SAML login ▸ the confirm page (asserting each step). */
  toConfirm(options?: { nameId?: string }): Promise<{
    deviceCode: string;
    userCode: string;
    token: string;
    cookie: string;
    page: HttpAnswer;
  }>;
}

let counter = 0;

export function startDeviceHarness(
  options: Parameters<typeof startLoginHarness>[0] = {},
): DeviceHarness {
  const h = startLoginHarness(options);
  const devices = new MemoryDeviceStore();
  const limiter = new MemoryRateLimiter();
  // The SAML function reads its deps at each request: it sees the device store from now on.
  h.saml.device = devices;
  const device: DeviceDeps = { ...h.login, devices, limiter, baseUrl: SAML_TEST.baseUrl };
  const handler = withHttpStack(deviceRoute(device));

  async function callDevice(request: HttpCall): Promise<HttpAnswer> {
    counter += 1;
    const requestId = `device-req-${counter}`;
    const event = httpEvent({
      method: request.method,
      path: request.path,
      requestId,
      headers: request.headers ?? {},
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.query === undefined ? {} : { query: request.query }),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    const result = await handler(event, fakeContext());
    if (typeof result === 'string') throw new Error('unexpected string result');
    const body = result.body ?? '';
    let json: Record<string, unknown> = {};
    try {
      json = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
    } catch {
      json = {};
    }
    return {
      status: result.statusCode ?? 200,
      headers: (result.headers ?? {}) as Record<string, string>,
      body,
      json,
      requestId,
    };
  }

  const form = (path: string, fields: Record<string, string>, extra: Partial<HttpCall> = {}) =>
    callDevice({
      method: 'POST',
      path,
      ...extra,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra.headers },
      body: new URLSearchParams(fields).toString(),
    });

  const authorize = (
    fields: Record<string, string> = { provider: SAML_TEST.provider },
    ip?: string,
  ) => form('/v1/device/authorize', fields, ip === undefined ? {} : { sourceIp: ip });

  const enter = (userCode: string, ip?: string) =>
    form('/v1/device', { user_code: userCode }, ip === undefined ? {} : { sourceIp: ip });

  async function startDevice(location: string): Promise<StartedLogin> {
    const url = new URL(location);
    const started = await h.call({
      method: 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    });
    expect(started.status, started.body).toBe(302);
    const idp = new URL(started.headers.location ?? '');
    const request = inflateRawSync(
      Buffer.from(idp.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    return {
      authnRequestId: parseXml(request).documentElement.getAttribute('ID') ?? '',
      relayState: idp.searchParams.get('RelayState') ?? '',
      cookie: (started.headers['set-cookie'] ?? '').split(';')[0] ?? '',
    };
  }

  function confirmForm(answer: HttpAnswer) {
    const token = /name="token" value="([^"]+)"/.exec(answer.body)?.[1] ?? '';
    const action = /<form method="post" action="([^"]+)"/.exec(answer.body)?.[1] ?? '';
    const cookie = (answer.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    return { token, cookie, action };
  }

  const confirm = (fields: Record<string, string>, cookie?: string) =>
    form('/v1/device/confirm', fields, cookie === undefined ? {} : { headers: { cookie } });

  const poll = (deviceCode: string, fields: Record<string, string> = {}) =>
    form('/v1/device/token', { grant_type: DEVICE_GRANT_TYPE, device_code: deviceCode, ...fields });

  async function toConfirm(flow: { nameId?: string } = {}) {
    const started = await authorize();
    expect(started.status, started.body).toBe(200);
    const deviceCode = String(started.json.device_code);
    const userCode = String(started.json.user_code);
    const entered = await enter(userCode);
    expect(entered.status, entered.body).toBe(302);
    const login = await startDevice(entered.headers.location ?? '');
    const page = await h.postAcs(login, flow);
    expect(page.status, page.body).toBe(200);
    const { token, cookie } = confirmForm(page);
    return { deviceCode, userCode, token, cookie, page };
  }

  return Object.assign(h, {
    devices,
    limiter,
    device,
    callDevice,
    authorize,
    enter,
    startDevice,
    confirmForm,
    confirm,
    poll,
    toConfirm,
  });
}
