/**
 * SHA-1 (FIPS 180-4, section 6.1) in plain JavaScript, for the Community ID of every flow.
 *
 * Why not node:crypto: a Community ID hashes 16 to 40 bytes, one block. `crypto.hash`/`createHash` pay a call
 * into C++, algorithm lookup and a result string per call, several times the cost of the 80 rounds themselves;
 * at a million flows per second that was most of the id's cost. SHA-1 is used here as the Community ID spec
 * requires (a flow label), not for security. Checked against node:crypto on random inputs of every length
 * class (test/unit/flows/sha1.test.ts) and through the spec's test vectors.
 */

/** Message schedule W[0..79] (section 6.1.2, step 1), reused: nothing is allocated per hash. */
const W = new Int32Array(80);
/** Padded final block(s) of a message (section 5.1.1): at most two blocks. */
const TAIL = new Uint8Array(128);

/** Loads the 64-byte block at `m[offset]` into W[0..15] as big-endian words. */
function loadBlock(m: Uint8Array, offset: number): void {
  const w = W;
  for (let i = 0; i < 16; i++) {
    const j = offset + 4 * i;
    w[i] = (m[j]! << 24) | (m[j + 1]! << 16) | (m[j + 2]! << 8) | m[j + 3]!;
  }
}

/** Processes the block in W[0..15] into the running hash `h` (section 6.1.2, steps 1-4). */
function compress(h: Int32Array): void {
  const w = W;
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  // Five rounds per iteration with the variables renamed in turn instead of shifted (no register moves).
  // Round constants K (section 4.2.1) written as signed 32-bit values where they exceed 2^31.
  let i = 0;
  for (; i < 20; i += 5) {
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + w[i]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + w[i + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + w[i + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + w[i + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + w[i + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; i < 40; i += 5) {
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + w[i]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + w[i + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + w[i + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + w[i + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + w[i + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; i < 60; i += 5) {
    // K = 0x8f1bbcdc
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) - 0x70e44324 + w[i]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) - 0x70e44324 + w[i + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) - 0x70e44324 + w[i + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) - 0x70e44324 + w[i + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) - 0x70e44324 + w[i + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; i < 80; i += 5) {
    // K = 0xca62c1d6
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) - 0x359d3e2a + w[i]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) - 0x359d3e2a + w[i + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) - 0x359d3e2a + w[i + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) - 0x359d3e2a + w[i + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) - 0x359d3e2a + w[i + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

/**
 * SHA-1 of `message[0 .. length)`: the five digest words (big-endian order, as signed 32-bit integers) are
 * written into `digest`. Any length (the Community ID uses one block; library callers may pass more).
 */
export function sha1(message: Uint8Array, length: number, digest: Int32Array): void {
  initialHash(digest);
  const fullBlocks = length >>> 6;
  for (let block = 0; block < fullBlocks; block++) {
    loadBlock(message, block * 64);
    compress(digest);
  }
  // Padding (section 5.1.1): the rest of the message, 0x80, zeros, and the bit length in the last 8 bytes.
  const rest = length - fullBlocks * 64;
  const tailBytes = rest < 56 ? 64 : 128;
  const tail = TAIL;
  for (let i = 0; i < rest; i++) tail[i] = message[fullBlocks * 64 + i]!;
  tail[rest] = 0x80;
  for (let i = rest + 1; i < tailBytes - 4; i++) tail[i] = 0;
  // Bit length as a 64-bit number; its high word is nonzero only past 512 MiB.
  const highBits = Math.floor(length / 0x20000000);
  tail[tailBytes - 8] = highBits >>> 24;
  tail[tailBytes - 7] = (highBits >>> 16) & 0xff;
  tail[tailBytes - 6] = (highBits >>> 8) & 0xff;
  tail[tailBytes - 5] = highBits & 0xff;
  const lowBits = (length * 8) >>> 0;
  tail[tailBytes - 4] = lowBits >>> 24;
  tail[tailBytes - 3] = (lowBits >>> 16) & 0xff;
  tail[tailBytes - 2] = (lowBits >>> 8) & 0xff;
  tail[tailBytes - 1] = lowBits & 0xff;
  loadBlock(tail, 0);
  compress(digest);
  if (tailBytes === 128) {
    loadBlock(tail, 64);
    compress(digest);
  }
}

/**
 * SHA-1 of a message of at most 55 bytes given as its one padded block: 16 big-endian words, the message,
 * then 0x80, zeros and the bit length in word 15 (section 5.1.1). For callers that build short messages
 * straight as words (the Community ID of an IPv4 flow) and so skip the byte packing.
 */
export function sha1PaddedBlock(words: Int32Array, digest: Int32Array): void {
  initialHash(digest);
  const w = W;
  for (let i = 0; i < 16; i++) w[i] = words[i]!;
  compress(digest);
}

/** H(0) (section 5.3.1). */
function initialHash(digest: Int32Array): void {
  digest[0] = 0x67452301;
  digest[1] = 0xefcdab89 | 0;
  digest[2] = 0x98badcfe | 0;
  digest[3] = 0x10325476;
  digest[4] = 0xc3d2e1f0 | 0;
}
