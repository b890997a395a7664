/**
 * `ccf upload --local <capture> -o <dir>`: the README's one-command pipeline. The real CLI in a subprocess
 * starts the embedded stack (s3rver, dynalite, the handlers) on free ports, uploads through the presigned
 * POST, waits for SCORED, downloads the CSVs and stops everything. The flows it downloads must be the flows
 * `ccf flows` makes from the same capture.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoDir, runCcf } from '../../support/run-ccf.js';

const sample = join(repoDir, 'samples', 'lab-mix.pcap');

/** Kafka/OpenSearch settings from the caller's shell would make the run publish; this test wants none. */
function withoutStreamingSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { KAFKA_BROKERS: _brokers, OPENSEARCH_URL: _opensearch, ...rest } = env;
  return rest;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ccf-upload-local-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ccf upload --local', () => {
  it('runs the whole local pipeline for one capture and downloads its CSVs', {
    timeout: 180_000,
  }, async () => {
    const out = join(dir, 'out');
    const env = {
      // Nothing answers here, so --local starts its own stack, on free ports, with data in a scratch folder.
      CCF_API_URL: 'http://127.0.0.1:9/',
      PORT: '0',
      LOCAL_S3_PORT: '0',
      LOCAL_DYNAMODB_PORT: '0',
      LOCAL_DATA_DIR: join(dir, 'data'),
      // No Kafka/OpenSearch for this run, even when other tests have them up.
      CCF_SERVICES_DIR: join(dir, 'no-services'),
    };
    const upload = await runCcf(['upload', '--local', sample, '-o', out], {
      env: withoutStreamingSettings({ ...process.env, CCF_DEBUG: '', ...env }),
    });
    expect(upload.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    expect(upload.code, upload.stderr).toBe(0);
    expect(upload.stdout).toMatch(/^status\s+SCORED$/m);

    const flows = await runCcf(['flows', sample, '-o', join(dir, 'expected-flows.csv')]);
    expect(flows.code, flows.stderr).toBe(0);
    const expectedFlows = readFileSync(join(dir, 'expected-flows.csv'), 'utf8');
    const downloadedFlows = readFileSync(join(out, 'flows.csv'), 'utf8');
    expect(downloadedFlows.split('\n').length).toBe(expectedFlows.split('\n').length);
    expect(downloadedFlows.split('\n')[0]).toBe(expectedFlows.split('\n')[0]);
    const flowCount = expectedFlows.trimEnd().split('\n').length - 1;
    expect(upload.stdout).toMatch(new RegExp(`^flows\\s+${flowCount}$`, 'm'));
    expect(upload.stdout).toMatch(new RegExp(`^predictions\\s+${flowCount}$`, 'm'));

    // fetch decodes the object's Content-Encoding: gzip, so the CLI saves plain CSV then.
    const packetsFile = join(out, 'packets.csv');
    const packetsText = existsSync(packetsFile)
      ? readFileSync(packetsFile, 'utf8')
      : gunzipSync(readFileSync(`${packetsFile}.gz`)).toString('utf8');
    const packetRows = packetsText.trimEnd().split('\n');
    expect(packetRows[0]).toMatch(/^index,ts_us,/);
    expect(upload.stdout).toMatch(new RegExp(`^packets\\s+${packetRows.length - 1}$`, 'm'));
  });
});
