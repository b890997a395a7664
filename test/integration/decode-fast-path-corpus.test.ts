/**
 * The Ethernet/IPv4/TCP|UDP fast path against the general decoder on every frame of every capture in
 * ../shared/corpora (CCF_SHARED_DIR): `decodeFrame` (fast path first) and `decodeFrameGeneral` (dispatch
 * tables only) must leave the same fields. Real traffic has the corner cases random frames rarely hit
 * (IPv4 options, TSO lengths, padding, odd UDP lengths, fragments, tunnels).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../functions/capture/capture-reader.js';
import { decodeFrame, decodeFrameGeneral } from '../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../functions/capture/decoded-packet.js';
import { CcfError } from '../../functions/platform/errors.js';
import { snapshot } from '../unit/capture/decode/decode-helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sharedDir = process.env.CCF_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
const corporaDir = path.join(sharedDir, 'corpora');
const hasCorpora = existsSync(corporaDir);
if (!hasCorpora) {
  console.warn(`fast-path corpus check skipped: ${corporaDir} not found (set CCF_SHARED_DIR)`);
}

function listFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(full));
    else if (entry.isFile()) files.push(full);
  }
  return files.sort();
}

/** Every field equal (the VLAN/MPLS arrays up to their counts, which are fields themselves). */
function samePacket(a: DecodedPacket, b: DecodedPacket, keys: readonly (keyof DecodedPacket)[]): boolean {
  for (const key of keys) {
    if (key !== 'vlanIds' && key !== 'mplsLabels' && a[key] !== b[key]) return false;
  }
  for (let i = 0; i < a.vlanCount; i++) if (a.vlanIds[i] !== b.vlanIds[i]) return false;
  for (let i = 0; i < a.mplsCount; i++) if (a.mplsLabels[i] !== b.mplsLabels[i]) return false;
  return true;
}

describe.skipIf(!hasCorpora)('decodeFrame fast path over the shared corpora', () => {
  it('decodes every frame exactly as the general path does', { timeout: 300_000 }, async () => {
    const fast = new DecodedPacket();
    const general = new DecodedPacket();
    const keys = Object.keys(fast) as (keyof DecodedPacket)[];
    let frames = 0;
    const mismatches: string[] = [];
    for (const file of listFiles(corporaDir)) {
      try {
        await readCaptureFile(file, (frame) => {
          frames++;
          decodeFrame(frame, fast);
          decodeFrameGeneral(frame, general);
          if (!samePacket(fast, general, keys)) {
            if (mismatches.length < 10) {
              mismatches.push(`${path.relative(corporaDir, file)} frame ${frame.index}`);
              expect(snapshot(fast)).toEqual(snapshot(general));
            }
          }
        });
      } catch (error) {
        // Files that are not captures (READMEs, snoop, zstd) are the reader's business, not this test's.
        if (!(error instanceof CcfError)) throw error;
      }
    }
    expect(mismatches).toEqual([]);
    expect(frames).toBeGreaterThan(100_000);
  });
});
