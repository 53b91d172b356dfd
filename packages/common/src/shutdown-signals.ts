import type { Logger } from "pino";

/** Signals closer together than this count as one request (a terminal's Ctrl-C plus a parent forwarding it). */
const SAME_REQUEST_WINDOW_MS = 1_000;

/**
 * Calls `stop` once on the first SIGINT or SIGTERM. A later signal, at least a second after the first,
 * means "stop now": the process exits with status 1 without waiting for `stop` to finish.
 * Returns a function that removes the handlers.
 */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => void, logger: Logger): () => void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstAt === undefined) {
      firstAt = now;
      logger.info({ signal }, "stopping");
      stop(signal);
    } else if (now - firstAt >= SAME_REQUEST_WINDOW_MS) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
