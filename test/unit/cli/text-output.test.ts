import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextOutput } from '../../../functions/cli/capture-input.js';
import { DependencyError, ValidationError } from '../../../functions/platform/errors.js';

describe('TextOutput to a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccf-text-output-'));

  it('writes text and bytes in order, each before the call returns (a lent buffer may be reused at once)', async () => {
    const path = join(dir, 'out.csv');
    const output = TextOutput.to(path);
    expect(output.writesAtOnce).toBe(true);
    expect(output.isStdout).toBe(false);
    output.write('a,b\n');
    const lent = new Uint8Array(Buffer.from('1,2\n'));
    output.writeBytes(lent);
    lent.set(Buffer.from('9,9\n'));
    output.writeBytes(lent);
    await output.room();
    await output.close();
    expect(readFileSync(path, 'utf8')).toBe('a,b\n1,2\n9,9\n');
    expect(output.bytesWritten).toBe(12);
  });

  it('creates the file only on the first write or on close', async () => {
    const path = join(dir, 'late.csv');
    const output = TextOutput.to(path);
    await output.room();
    expect(existsSync(path)).toBe(false);
    await output.close();
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('keeps a write failure for room() and close(): a full disk is a typed error naming the file', async () => {
    const output = TextOutput.to('/dev/full');
    output.writeBytes(new Uint8Array(64 * 1024));
    await expect(output.room()).rejects.toBeInstanceOf(DependencyError);
    await expect(output.close()).rejects.toThrow(
      "cannot write the output '/dev/full': no space left on the device",
    );
  });

  it('reports a directory as the output as a typed error', async () => {
    const output = TextOutput.to(dir);
    output.write('x\n');
    await expect(output.close()).rejects.toBeInstanceOf(ValidationError);
  });
});
