/**
 * Which addresses a connector may call (SSRF guard). Entries are host names (`api.example.com`),
 * wildcards (`*.example.com`), IP addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`). A name
 * entry allows that name; an IP or range allows literal addresses in it and names that resolve
 * only to addresses in it (checked at connect time, so DNS rebinding cannot slip through).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

export class Allowlist {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly ips = new BlockList();
  private hasIps = false;
  readonly entries: string[];

  constructor(entries: string[]) {
    this.entries = entries;
    for (const raw of entries) {
      const e = raw.trim().toLowerCase();
      const err = Allowlist.check(e);
      if (err) throw new Error(err);
      const slash = e.indexOf('/');
      if (slash >= 0) {
        const ip = e.slice(0, slash);
        this.ips.addSubnet(ip, Number(e.slice(slash + 1)), isIP(ip) === 6 ? 'ipv6' : 'ipv4');
        this.hasIps = true;
      } else if (isIP(stripBrackets(e))) {
        const ip = stripBrackets(e);
        this.ips.addAddress(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
        this.hasIps = true;
      } else if (e.startsWith('*.')) {
        this.suffixes.push(e.slice(1));
      } else {
        this.names.add(e);
      }
    }
  }

  /** An error message for a bad entry, or undefined. */
  static check(entry: string): string | undefined {
    const e = entry.trim().toLowerCase();
    const slash = e.indexOf('/');
    if (slash >= 0) {
      const ip = e.slice(0, slash);
      const bits = Number(e.slice(slash + 1));
      const v = isIP(ip);
      if (!v || !Number.isInteger(bits) || bits < 0 || bits > (v === 4 ? 32 : 128)) return `"${entry}" is not a valid CIDR range (e.g. 10.0.0.0/8).`;
      return undefined;
    }
    if (isIP(stripBrackets(e))) return undefined;
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(e)) return `"${entry}" is not a host name, wildcard (*.example.com), IP address or CIDR range.`;
    return undefined;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  private nameAllowed(host: string): boolean {
    const h = host.toLowerCase();
    return this.names.has(h) || this.suffixes.some((s) => h.endsWith(s));
  }

  private ipAllowed(ip: string): boolean {
    return this.hasIps && this.ips.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * Whether a URL's host may be called as far as can be told without DNS: true or false for
   * literal IPs and allowed names, 'resolve' when only the resolved addresses can tell.
   */
  precheck(hostname: string): boolean | 'resolve' {
    if (this.isEmpty) return true;
    const h = stripBrackets(hostname);
    if (isIP(h)) return this.ipAllowed(h) || this.nameAllowed(h);
    if (this.nameAllowed(h)) return true;
    return this.hasIps ? 'resolve' : false;
  }

  /** A `lookup` for http.request that refuses names resolving outside the allowlist. */
  lookup = (hostname: string, options: LookupOptions, callback: (...args: any[]) => void): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      if (!this.isEmpty && !this.nameAllowed(hostname)) {
        const bad = addresses.find((a) => !this.ipAllowed(a.address));
        if (bad) {
          const e = Object.assign(new Error(`${hostname} resolves to ${bad.address}, which is outside http.allowed.hosts`), { code: 'EHOSTNOTALLOWED' });
          return callback(e);
        }
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
