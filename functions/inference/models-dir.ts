import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../platform/errors.js';
import { MANIFEST_FILE } from './manifest.js';

/**
 * The repository's (or installed package's) `models/` folder: the nearest ancestor of this module that holds
 * `models/manifest.json`. Works from the sources (functions/inference/) and from the build (dist/functions/...).
 */
export function defaultModelsDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let depth = 0; depth < 6; depth++) {
    const candidate = join(dir, 'models');
    if (existsSync(join(candidate, MANIFEST_FILE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new ModelError(
    `No models/${MANIFEST_FILE} found above ${from}; pass the models directory explicitly`,
    {
      path: from,
    },
  );
}
