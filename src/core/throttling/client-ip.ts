import { isIPv4, isIPv6 } from 'node:net';

/**
 * The part of a client address a per-IP limit counts: an IPv4 address as
 * it is, an IPv6 address by its /64 prefix (one subscriber usually holds a
 * whole /64, so counting single IPv6 addresses would let a client rotate
 * through billions of them). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as IPv4.
 */
export function rateLimitSubject(ip: string): string {
  if (isIPv4(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(ip)) return ip;
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lower-case hex without leading zeros. */
function expandIPv6(ip: string): string[] {
  const address = ip.split('%')[0].toLowerCase();
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const toGroups = (part: string | undefined) => (part ? part.split(':') : []);
  let left = toGroups(head);
  let right = toGroups(tail);
  // An embedded IPv4 tail (`::1.2.3.4`) stands for the last two groups.
  const ipv4Of = (groups: string[]) => {
    const last = groups[groups.length - 1];
    if (!last?.includes('.')) return groups;
    const [a, b, c, d] = last.split('.').map(Number);
    return [...groups.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  if (tail === undefined) left = ipv4Of(left);
  else right = ipv4Of(right);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...(tail === undefined ? [] : zeros), ...right].map((g) => parseInt(g, 16).toString(16));
}
