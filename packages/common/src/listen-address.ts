/** A parsed `host:port` listen or dial address. IPv6 hosts are written in brackets: `[::1]:9801`. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` / `[v6]:port`; throws an Error quoting the text when it is not one. */
export function parseHostPort(text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new Error(`"${text}" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Writes a HostPort back, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return octets?.slice(1).every((o) => Number(o) <= 255) ?? false;
}
