import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha1 } from '../../../functions/flows/sha1.js';

function hexOf(digest: Int32Array): string {
  let hex = '';
  for (const word of digest) hex += (word >>> 0).toString(16).padStart(8, '0');
  return hex;
}

function ours(message: Uint8Array, length = message.length): string {
  const digest = new Int32Array(5);
  sha1(message, length, digest);
  return hexOf(digest);
}

const reference = (message: Uint8Array): string => createHash('sha1').update(message).digest('hex');

describe('sha1', () => {
  // FIPS 180-4 examples (NIST CSRC "SHA1.pdf"): one block, two blocks (56 bytes), and the empty message.
  it.each([
    ['abc', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '84983e441c3bd26ebaae4aa1f95129e5e54670f1'],
    ['', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
  ])('hashes the FIPS example %j', (text, expected) => {
    expect(ours(new TextEncoder().encode(text))).toBe(expected);
  });

  it('equals node:crypto for every length around the block and padding boundaries', () => {
    for (let length = 0; length <= 200; length++) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 131 + length * 7) & 0xff);
      expect(ours(message), `length ${length}`).toBe(reference(message));
    }
  });

  it('equals node:crypto on random messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (message) => {
        expect(ours(message)).toBe(reference(message));
      }),
      { numRuns: 2000 },
    );
  });

  it('hashes only the first `length` bytes of a longer buffer', () => {
    const buffer = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    expect(ours(buffer, 40)).toBe(reference(buffer.subarray(0, 40)));
  });
});
