/**
 * `npm start` and Ctrl-C, as a terminal delivers it: SIGINT to the whole foreground process group (npm, tsx,
 * the runtime, and the s3rver and dynalite children). The runtime must finish and close its stores in order,
 * exit 0, say nothing about a failure, and leave no child server behind. Before, the children died on the
 * group's SIGINT first and the runtime's orderly close failed (`shutdown failed: ERR_IPC_CHANNEL_CLOSED`), or
 * the signal forwarded by npm and tsx counted as a second Ctrl-C (`forced exit`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoDir } from '../../support/run-ccf.js';

const dir = mkdtempSync(join(tmpdir(), 'ccf-npm-start-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Kafka/OpenSearch settings from the caller's shell would make the runtime publish; this test wants none. */
function withoutStreamingSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { KAFKA_BROKERS: _brokers, OPENSEARCH_URL: _opensearch, ...rest } = env;
  return rest;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('stops cleanly on Ctrl-C to its process group, children included', { timeout: 120_000 }, async () => {
    // detached: its own process group, as a terminal's foreground job, so the group can be signalled.
    const child = spawn('npm', ['start'], {
      cwd: repoDir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...withoutStreamingSettings(process.env),
        PORT: '0',
        LOCAL_S3_PORT: '0',
        LOCAL_DYNAMODB_PORT: '0',
        LOCAL_DATA_DIR: join(dir, 'data'),
        // No Kafka/OpenSearch for this run, even when other tests have them up.
        CCF_SERVICES_DIR: join(dir, 'no-services'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('Ctrl-C to stop.') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stdout, stderr).toContain('Ctrl-C to stop.');
    const pgid = child.pid ?? 0;
    // The group's members now: the runtime's s3rver and dynalite children among them.
    const members = await groupMembers(pgid);
    expect(members.some((m) => m.args.includes('dynalite'))).toBe(true);

    process.kill(-pgid, 'SIGINT');
    await exited;
    // npm's own exit status reflects the signal (a shell shows 130), so the runtime's clean stop is read from
    // what it prints: the stores closed in order ("stopped"), no failure, no forced exit.
    expect(stdout).toContain('SIGINT: finishing in-flight work and stopping...');
    expect(stdout, stderr).toMatch(/^stopped$/m);
    expect(`${stdout}\n${stderr}`).not.toMatch(/shutdown failed|forced exit/);
    // Every process of the group is gone (the children may take a moment after npm itself exits).
    const gone = Date.now() + 15_000;
    while (members.some((m) => isAlive(m.pid)) && Date.now() < gone) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(members.filter((m) => isAlive(m.pid))).toEqual([]);
  });
});

/** Processes in a process group (Linux `ps`). */
async function groupMembers(pgid: number): Promise<{ pid: number; args: string }[]> {
  const ps = spawn('ps', ['-eo', 'pid=,pgid=,args='], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  ps.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  await new Promise((resolve) => ps.once('exit', resolve));
  return out.split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return match && Number(match[2]) === pgid ? [{ pid: Number(match[1]), args: match[3] ?? '' }] : [];
  });
}
