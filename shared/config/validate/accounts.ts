/**
 * Account checks: an alias names one account only, since the access portal shows the alias in
 * place of the id and two accounts under one name would send a user to the wrong one.
 */
import type { Account } from '#shared/config/schema.ts';
import type { Report } from './messages.ts';

export function checkAccounts(accounts: Readonly<Record<string, Account>>, report: Report): void {
  const firstByAlias = new Map<string, string>();
  for (const [accountId, account] of Object.entries(accounts)) {
    if (account.alias === undefined) continue;
    const earlier = firstByAlias.get(account.alias);
    if (earlier === undefined) firstByAlias.set(account.alias, accountId);
    else {
      report(
        ['accounts', accountId, 'alias'],
        `duplicate account alias "${account.alias}" (also accounts["${earlier}"].alias); each alias must name one account`,
      );
    }
  }
}
