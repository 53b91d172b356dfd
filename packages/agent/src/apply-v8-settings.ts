// Imported first by bin/vigil-agent.js and the SEA entry, so the flags are set before any other
// module of the agent evaluates (why: v8-settings.ts).
import { applyAgentV8Settings } from "./v8-settings.js";

applyAgentV8Settings();
