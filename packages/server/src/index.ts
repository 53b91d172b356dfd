export { generateSecret, hashSecret } from "./auth/secrets.js";
export { type CliIo, main } from "./cli/main.js";
export { loadServerConfig, type ServerConfig, serverConfigSchema } from "./config.js";
export { type RunningServer, startServer } from "./server.js";
