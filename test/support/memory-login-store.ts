import {
  type LoginSession,
  type LoginSessionAdmin,
  type LoginStore,
  type PendingCode,
  principalSessionsPartition,
} from '#shared/login/store.ts';

/** In-memory twin of DynamoLoginStore for in-process tests; the same single-use semantics. */
export class MemoryLoginStore implements LoginStore, LoginSessionAdmin {
  readonly codes = new Map<string, PendingCode>();
  readonly sessions = new Map<string, LoginSession>();
  /** `<principal partition>` → session hashes. */
  readonly index = new Map<string, Set<string>>();

  async saveCode(codeHash: string, code: PendingCode): Promise<void> {
    if (this.codes.has(codeHash)) throw new Error('duplicate code');
    this.codes.set(codeHash, structuredClone(code));
  }

  async consumeCode(codeHash: string): Promise<PendingCode | undefined> {
    const code = this.codes.get(codeHash);
    this.codes.delete(codeHash);
    return code;
  }

  async createSession(sessionHash: string, session: LoginSession): Promise<void> {
    const partition = principalSessionsPartition(session.issuer, session.subject);
    const index = this.index.get(partition) ?? new Set<string>();
    index.add(sessionHash);
    this.index.set(partition, index);
    this.sessions.set(sessionHash, structuredClone(session));
  }

  async findSession(sessionHash: string, now: Date): Promise<LoginSession | undefined> {
    const session = this.sessions.get(sessionHash);
    return session !== undefined && session.expiresAt * 1000 > now.getTime() ? session : undefined;
  }

  async endSession(sessionHash: string, now: Date): Promise<boolean> {
    const session = this.sessions.get(sessionHash);
    if (session === undefined) return false;
    this.sessions.delete(sessionHash);
    this.index
      .get(principalSessionsPartition(session.issuer, session.subject))
      ?.delete(sessionHash);
    return session.expiresAt * 1000 > now.getTime();
  }

  async countPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number> {
    const hashes = [...(this.index.get(principalSessionsPartition(issuer, subject)) ?? [])];
    return hashes.filter((hash) => (this.sessions.get(hash)?.expiresAt ?? 0) * 1000 > now.getTime())
      .length;
  }

  async endPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number> {
    const live = await this.countPrincipalSessions(issuer, subject, now);
    const partition = principalSessionsPartition(issuer, subject);
    for (const hash of this.index.get(partition) ?? []) this.sessions.delete(hash);
    this.index.delete(partition);
    return live;
  }
}
