import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const cache = new Map<string, string>();

function addTree(hash: ReturnType<typeof createHash>, root: string, path: string): void {
  const stats = statSync(path);
  if (stats.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      addTree(hash, root, join(path, name));
    }
    return;
  }
  hash.update(relative(root, path));
  hash.update('\0');
  hash.update(readFileSync(path));
  hash.update('\0');
}

/**
 * Hash of everything a function bundle can be built from: the given folders and files under `root`
 * (sources, lock file, tsconfig, data). Used as the bundles' asset hash, so a synth re-bundles only
 * when one of them changed (and several stages synthesized into one cloud assembly share bundles).
 * Conservative on purpose: any change under these paths re-bundles every function.
 */
export function sourceFingerprint(root: string, paths: readonly string[]): string {
  const key = `${root}\n${paths.join('\n')}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(`[${path}]`);
    try {
      addTree(hash, root, join(root, path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const digest = hash.digest('hex');
  cache.set(key, digest);
  return digest;
}

export function hashOf(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}
