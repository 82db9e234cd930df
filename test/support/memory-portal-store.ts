import type { PortalAction, PortalPage, PortalStore } from '#shared/portal/store.ts';

/** In-memory twin of DynamoPortalStore: a token is removed from its page as it is used. */
export class MemoryPortalStore implements PortalStore {
  readonly pages = new Map<string, PortalPage>();

  async savePage(pageHash: string, page: PortalPage): Promise<void> {
    if (this.pages.has(pageHash)) throw new Error('duplicate page');
    this.pages.set(pageHash, structuredClone(page));
  }

  async consumeAction(
    pageHash: string,
    tokenHash: string,
    now: Date,
  ): Promise<PortalAction | undefined> {
    const page = this.pages.get(pageHash);
    if (page === undefined || !Object.hasOwn(page.actions, tokenHash)) return undefined;
    const target = page.actions[tokenHash] ?? '';
    delete page.actions[tokenHash];
    if (page.expiresAt * 1000 <= now.getTime()) return undefined;
    return { sessionHash: page.sessionHash, target };
  }
}
