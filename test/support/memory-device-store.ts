import type {
  DeviceConfirm,
  DeviceGrant,
  DeviceRef,
  DeviceStore,
} from '#shared/login/device-store.ts';
import type { StoredPrincipal } from '#shared/login/store.ts';

/** In-memory twin of DynamoDeviceStore for in-process tests; the same conditional transitions. */
export class MemoryDeviceStore implements DeviceStore {
  readonly devices = new Map<string, DeviceGrant>();
  readonly userCodes = new Map<string, { deviceHash: string; expiresAt: number }>();
  readonly refs = new Map<string, DeviceRef>();
  readonly confirms = new Map<string, DeviceConfirm>();

  async createDevice(deviceHash: string, userCodeHash: string, grant: DeviceGrant) {
    const held = this.userCodes.get(userCodeHash);
    if (held !== undefined && held.expiresAt > Date.parse(grant.createdAt) / 1000) return false;
    if (this.devices.has(deviceHash)) throw new Error('duplicate device code');
    this.userCodes.set(userCodeHash, { deviceHash, expiresAt: grant.expiresAt });
    this.devices.set(deviceHash, structuredClone(grant));
    return true;
  }

  async findByUserCode(userCodeHash: string, now: Date) {
    const held = this.userCodes.get(userCodeHash);
    if (held === undefined) return undefined;
    const grant = this.devices.get(held.deviceHash);
    if (grant === undefined || grant.status !== 'pending') return undefined;
    if (grant.expiresAt * 1000 <= now.getTime()) return undefined;
    return { deviceHash: held.deviceHash, grant: structuredClone(grant) };
  }

  async getDevice(deviceHash: string) {
    const grant = this.devices.get(deviceHash);
    return grant === undefined ? undefined : structuredClone(grant);
  }

  async recordPoll(deviceHash: string, seen: number | undefined, at: number, interval: number) {
    const grant = this.devices.get(deviceHash);
    if (grant === undefined || grant.lastPollAt !== seen) return false;
    grant.lastPollAt = at;
    grant.interval = interval;
    return true;
  }

  async decide(
    deviceHash: string,
    decision: { status: 'approved'; principal: StoredPrincipal } | { status: 'denied' },
    now: Date,
  ) {
    const grant = this.devices.get(deviceHash);
    if (grant === undefined || grant.status !== 'pending') return false;
    if (grant.expiresAt * 1000 <= now.getTime()) return false;
    grant.status = decision.status;
    if (decision.status === 'approved') grant.principal = structuredClone(decision.principal);
    return true;
  }

  async redeem(deviceHash: string) {
    const grant = this.devices.get(deviceHash);
    if (grant === undefined || grant.status !== 'approved') return undefined;
    const before = structuredClone(grant);
    grant.status = 'used';
    delete grant.principal;
    return before;
  }

  async saveRef(refHash: string, ref: DeviceRef) {
    if (this.refs.has(refHash)) throw new Error('duplicate ref');
    this.refs.set(refHash, structuredClone(ref));
  }

  async consumeRef(refHash: string, now: Date) {
    const ref = this.refs.get(refHash);
    this.refs.delete(refHash);
    return ref !== undefined && ref.expiresAt * 1000 > now.getTime() ? ref : undefined;
  }

  async saveConfirm(tokenHash: string, confirm: DeviceConfirm) {
    if (this.confirms.has(tokenHash)) throw new Error('duplicate confirm token');
    this.confirms.set(tokenHash, structuredClone(confirm));
  }

  async consumeConfirm(tokenHash: string, now: Date) {
    const confirm = this.confirms.get(tokenHash);
    this.confirms.delete(tokenHash);
    return confirm !== undefined && confirm.expiresAt * 1000 > now.getTime() ? confirm : undefined;
  }
}
