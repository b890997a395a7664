/**
 * vitest globalSetup: the streaming tests start Kafka and OpenSearch when they are not running (and reuse
 * them when they are). At the end of the run, stop what this run started, so `npm test` leaves no JVMs
 * behind. Ownership is recorded, not inferred: this run puts a token in `CCF_SERVICES_OWNER` (inherited by its
 * test workers), the services a worker starts are recorded with it, and the teardown stops only those. So
 * services that were already up (`npm run services:up`, or started outside these scripts) are left alone, and
 * so are services another test run started meanwhile (a second vitest run finishing first used to stop the
 * Kafka the first one was still starting). `CCF_KEEP_SERVICES=1` keeps them for the next run (faster iteration
 * on the streaming tests).
 */
import { randomUUID } from 'node:crypto';
import { stopService } from '../scripts/services/services.js';
import { SERVICES_OWNER_ENV } from '../scripts/services/state.js';

export function setup(): () => Promise<void> {
  const owner = randomUUID();
  process.env[SERVICES_OWNER_ENV] = owner;
  return async () => {
    if (process.env.CCF_KEEP_SERVICES === '1') return;
    const log = (line: string) => process.stderr.write(`services: ${line}\n`);
    await stopService('kafka', { log, startedBy: owner });
    await stopService('opensearch', { log, startedBy: owner });
  };
}
