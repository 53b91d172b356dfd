export { type RunningAgent, startAgent } from "./agent.js";
export { BatchQueue, type QueueStats } from "./batch-queue.js";
export { main } from "./cli/main.js";
export { type AgentConfig, agentConfigSchema, loadAgentConfig } from "./config.js";
export { register, writeKeyFile } from "./enroll.js";
export { AGENT_PROCESS_ENV, AGENT_V8_FLAGS } from "./v8-settings.js";
