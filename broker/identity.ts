/** Who a connected client is, as established by the credentials file. */

export const ROLES = ['gateway', 'aggregator', 'auditor', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export type Identity =
  /** A gateway holds one user's data: `userId` names that user in privacy/ and audit/ topics. */
  | { role: 'gateway'; username: string; userId: string }
  | { role: 'aggregator' | 'auditor' | 'operator'; username: string };
