import { ensureServices, ServicesSetupError, servicesStatus, stopServices } from './services.js';

/** `npm run services:up | services:down | services:status` */
async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const state = await ensureServices();
      process.stdout.write(
        `Kafka:      ${state.kafka?.brokers.join(',')} (pid ${state.kafka?.pid ?? 'external'})\n` +
          `OpenSearch: ${state.opensearch?.url} (pid ${state.opensearch?.pid ?? 'external'})\n` +
          `export KAFKA_BROKERS=${state.kafka?.brokers.join(',')} OPENSEARCH_URL=${state.opensearch?.url}\n`,
      );
      return 0;
    }
    case 'down':
      await stopServices();
      return 0;
    case 'status': {
      const statuses = await servicesStatus();
      if (statuses.length === 0) process.stdout.write('no services recorded as running\n');
      for (const s of statuses) {
        process.stdout.write(
          `${s.name.padEnd(11)}${s.endpoint.padEnd(26)}pid ${String(s.pid ?? 'external').padEnd(9)}${s.healthy ? 'healthy' : 'NOT healthy'}\n`,
        );
      }
      return statuses.every((s) => s.healthy) ? 0 : 1;
    }
    default:
      process.stderr.write('usage: services.ts up|down|status\n');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ServicesSetupError) {
      process.stderr.write(`services: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  },
);
