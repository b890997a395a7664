import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * Where the local Kafka and OpenSearch live and how to find the running ones.
 * Written by `scripts/services/services.ts` (`npm run services:up`), read by the same script, the tests and
 * the local runtime (`functions/local/kafka-bridge.ts`). No I/O at import time.
 */
export const KAFKA_VERSION = '3.9.1';
export const SCALA_BINARY_VERSION = '2.13';
export const OPENSEARCH_VERSION = '2.19.4';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServicePaths {
  root: string;
  kafkaHome: string;
  opensearchHome: string;
  downloads: string;
  kafkaData: string;
  opensearchData: string;
  logs: string;
  run: string;
  stateFile: string;
}

export function servicePaths(root = process.env.CCF_SERVICES_DIR ?? join(repoRoot, '.cache', 'services')) {
  const paths: ServicePaths = {
    root,
    kafkaHome: join(root, `kafka_${SCALA_BINARY_VERSION}-${KAFKA_VERSION}`),
    opensearchHome: join(root, `opensearch-${OPENSEARCH_VERSION}`),
    downloads: join(root, 'downloads'),
    kafkaData: join(root, 'data', 'kafka'),
    opensearchData: join(root, 'data', 'opensearch'),
    logs: join(root, 'logs'),
    run: join(root, 'run'),
    stateFile: join(root, 'state.json'),
  };
  return paths;
}

const serviceStateSchema = z.object({
  pid: z.number().int().positive().nullable(),
  /** True when the service was already running and not started by this script (never stopped by it). */
  external: z.boolean(),
  startedAt: z.string(),
  /**
   * The test run that started it (`CCF_SERVICES_OWNER`, set by the vitest global setup): that run's teardown
   * stops it, and no other run's does. Absent for `npm run services:up` and for services found running.
   */
  startedBy: z.string().optional(),
});

/** The environment variable a test run sets so the services it starts are recorded as its own. */
export const SERVICES_OWNER_ENV = 'CCF_SERVICES_OWNER';

/** `startedBy` for a service this process starts now (see the schema). */
export function servicesOwner(): { startedBy?: string } {
  const owner = process.env[SERVICES_OWNER_ENV];
  return owner ? { startedBy: owner } : {};
}

export const kafkaStateSchema = serviceStateSchema.extend({ brokers: z.array(z.string().min(1)).min(1) });
export const opensearchStateSchema = serviceStateSchema.extend({ url: z.url() });

export const servicesStateSchema = z.object({
  kafka: kafkaStateSchema.optional(),
  opensearch: opensearchStateSchema.optional(),
});
export type ServicesState = z.infer<typeof servicesStateSchema>;
export type KafkaState = z.infer<typeof kafkaStateSchema>;
export type OpenSearchState = z.infer<typeof opensearchStateSchema>;

/** The recorded state, or an empty one when nothing was recorded (or the file is unreadable). */
export function readServicesState(paths: ServicePaths = servicePaths()): ServicesState {
  let text: string;
  try {
    text = readFileSync(paths.stateFile, 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const result = servicesStateSchema.safeParse(parsed);
  return result.success ? result.data : {};
}

/** True when `pid` is a live process (signal 0 probes without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunningServices {
  kafkaBrokers: string[] | undefined;
  opensearchUrl: string | undefined;
}

/**
 * The endpoints of the services recorded as running by `npm run services:up` whose processes are alive.
 * Used by the local runtime to decide whether to publish and index when KAFKA_BROKERS/OPENSEARCH_URL are unset.
 */
export function runningLocalServices(paths: ServicePaths = servicePaths()): RunningServices {
  const state = readServicesState(paths);
  const alive = (pid: number | null | undefined, external: boolean | undefined) =>
    external === true || (pid != null && isProcessAlive(pid));
  return {
    kafkaBrokers:
      state.kafka && alive(state.kafka.pid, state.kafka.external) ? state.kafka.brokers : undefined,
    opensearchUrl:
      state.opensearch && alive(state.opensearch.pid, state.opensearch.external)
        ? state.opensearch.url
        : undefined,
  };
}
