import { formatHostPort, parseHostPort } from "@vigil/common";

export interface QuickstartSettings {
  /** Absolute. */
  readonly dataDir: string;
  readonly httpListen: string;
  readonly grpcListen: string;
  /** The server's log level (VIGIL_LOG_LEVEL); the local agent's is in its agent.toml. */
  readonly logLevel: string;
}

/** `npm start` settings from the environment (Contract: VIGIL_DATA_DIR, VIGIL_HTTP_LISTEN, VIGIL_GRPC_LISTEN). */
export function quickstartSettings(
  env: NodeJS.ProcessEnv,
  resolvePath: (p: string) => string,
): QuickstartSettings {
  const httpListen = env.VIGIL_HTTP_LISTEN || "127.0.0.1:9800";
  const grpcListen = env.VIGIL_GRPC_LISTEN || "127.0.0.1:9801";
  // Validate early so a typo is reported once, here, not by two child processes.
  parseHostPort(httpListen);
  parseHostPort(grpcListen);
  return {
    dataDir: resolvePath(env.VIGIL_DATA_DIR || "./data"),
    httpListen,
    grpcListen,
    logLevel: env.VIGIL_LOG_LEVEL || "info",
  };
}

/** The address a local client dials for a listen address (a wildcard listen is dialled on loopback). */
export function dialAddress(listen: string): string {
  const hp = parseHostPort(listen);
  if (hp.host === "0.0.0.0") return formatHostPort({ host: "127.0.0.1", port: hp.port });
  if (hp.host === "::") return formatHostPort({ host: "::1", port: hp.port });
  return formatHostPort(hp);
}

/** The agent config `npm start` writes on first start; the user may edit it afterwards. */
export function localAgentToml(grpcDial: string): string {
  return `# Written by \`npm start\` on first start; edit freely (docs/configuration.md lists every key).
# The local agent of the quick start: it reports this machine, under its hostname, to the local server.
server = "${grpcDial}"
api_key_file = "agent/api.key"   # relative to this file; written by \`vigil-agent enroll\`

[collectors.cpu]
interval = "1s"

[collectors.memory]
interval = "5s"
`;
}
