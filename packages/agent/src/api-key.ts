import { readFileSync } from "node:fs";
import { ConfigError } from "@vigil/common";
import type { AgentConfig } from "./config.js";

/** The API key from the config or its key file; a ConfigError says how to get one when there is none. */
export function readApiKey(config: AgentConfig): string {
  if (config.apiKey !== undefined) return config.apiKey;
  if (config.apiKeyFile === undefined) {
    throw new ConfigError({
      file: config.file,
      key: "api_key_file",
      problem:
        "no API key: set api_key_file and run `vigil-agent enroll --config FILE --server HOST:PORT --token T`",
    });
  }
  let key: string;
  try {
    key = readFileSync(config.apiKeyFile, "utf8").trim();
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError({
      file: config.file,
      key: "api_key_file",
      problem: `cannot read ${config.apiKeyFile} (${code}); enroll first: vigil-agent enroll --config ${config.file} --server HOST:PORT --token T`,
    });
  }
  if (key === "")
    throw new ConfigError({
      file: config.file,
      key: "api_key_file",
      problem: `${config.apiKeyFile} is empty`,
    });
  return key;
}
