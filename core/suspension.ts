// A suspended domain (vmail:suspendedDomains) as its rows say it: none of its users may log in
// or receive mail, whatever their own entries say, and its transports row refuses mail to any
// address of it (aliases and the catch-all included). Pure.

interface Account {
  domain: string;
  login: boolean;
  receive: boolean;
}

/** The users with a suspended domain's users kept out and refusing mail. */
export function suspendUsers<U extends Account>(users: U[], suspended: ReadonlySet<string>): U[] {
  return users.map((u) => (suspended.has(u.domain) ? { ...u, login: false, receive: false } : u));
}
