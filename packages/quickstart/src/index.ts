export { type QuickstartIo, quickstart } from "./quickstart.js";
export { dialAddress, localAgentToml, quickstartSettings } from "./quickstart-config.js";
