/**
 * vitest globalSetup: the streaming tests start Kafka and OpenSearch when they are not running (and reuse
 * them when they are). At the end of the run, stop what this run started, so `npm test` leaves no JVMs
 * behind; services that were already up (`npm run services:up`, or started outside these scripts) are left
 * alone. `CCF_KEEP_SERVICES=1` keeps them for the next run (faster iteration on the streaming tests).
 */
import { stopService } from '../scripts/services/services.js';
import { runningLocalServices } from '../scripts/services/state.js';

export function setup(): () => Promise<void> {
  const before = runningLocalServices();
  const wasRunning = {
    kafka: before.kafkaBrokers !== undefined,
    opensearch: before.opensearchUrl !== undefined,
  };
  return async () => {
    if (process.env.CCF_KEEP_SERVICES === '1') return;
    const log = (line: string) => process.stderr.write(`services: ${line}\n`);
    if (!wasRunning.kafka) await stopService('kafka', { log });
    if (!wasRunning.opensearch) await stopService('opensearch', { log });
  };
}
