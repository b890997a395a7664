/**
 * Builds the onnxruntime Lambda layer: `nodejs/node_modules/{onnxruntime-node,onnxruntime-common}`
 * copied from the installed packages, pruned to the native binaries of one Linux architecture and
 * to the JavaScript that runs (no TypeScript sources, maps, install scripts or other platforms).
 * The layer never ships `@aws-sdk/*`; the functions bundle the SDK version they were tested with.
 *
 * Usage: `npm run build:layer`, or `npx tsx layers/onnxruntime/build.ts [--arch arm64|x64] [--out <dir>]`
 */
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LayerArch = 'arm64' | 'x64';

export interface LayerBuildOptions {
  readonly arch: LayerArch;
  /** Directory that becomes the layer's root (it will contain `nodejs/`). Emptied first. */
  readonly outDir: string;
  /** Where to resolve the installed packages from; defaults to the repo root. */
  readonly resolveFrom?: string;
}

export interface LayerBuildResult {
  readonly outDir: string;
  readonly arch: LayerArch;
  readonly onnxruntimeVersion: string;
  readonly unzippedBytes: number;
  readonly files: readonly string[];
}

/** The packages the layer carries; onnxruntime-node's other dependencies only serve its install script. */
export const LAYER_PACKAGES = ['onnxruntime-node', 'onnxruntime-common'] as const;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Paths (relative to a package root) never needed at run time. */
const DROPPED_TOP_LEVEL = new Set(['lib', 'script', 'README.md']);
const DROPPED_SUFFIXES = ['.map', '.d.ts', '.d.mts', '.d.cts', '.ts.map'];

function packageRoot(name: string, resolveFrom: string): string {
  // Not require.resolve(`${name}/package.json`): onnxruntime-common's `exports` hides package.json.
  const require = createRequire(join(resolveFrom, 'package.json'));
  for (const candidate of require.resolve.paths(name) ?? []) {
    if (existsSync(join(candidate, name, 'package.json'))) return join(candidate, name);
  }
  throw new Error(`${name} is not installed (looked from ${resolveFrom}); run npm install first`);
}

function keep(relativePath: string, arch: LayerArch): boolean {
  const parts = relativePath.split('/');
  const top = parts[0] ?? '';
  if (DROPPED_TOP_LEVEL.has(top)) return false;
  if (DROPPED_SUFFIXES.some((suffix) => relativePath.endsWith(suffix))) return false;
  // bin/napi-v6/<platform>/<arch>/…: only linux/<arch>.
  if (top === 'bin' && parts.length >= 3) {
    const platform = parts[2];
    if (platform !== 'linux') return false;
    if (parts.length >= 4 && parts[3] !== arch) return false;
  }
  return true;
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(root);
  return out;
}

export function directorySizeBytes(root: string): number {
  return listFiles(root).reduce((total, file) => total + lstatSync(file).size, 0);
}

export function buildOnnxRuntimeLayer(options: LayerBuildOptions): LayerBuildResult {
  const resolveFrom = options.resolveFrom ?? REPO_ROOT;
  const outDir = resolve(options.outDir);
  rmSync(outDir, { recursive: true, force: true });
  const modulesDir = join(outDir, 'nodejs', 'node_modules');
  mkdirSync(modulesDir, { recursive: true });

  for (const name of LAYER_PACKAGES) {
    const source = packageRoot(name, resolveFrom);
    const target = join(modulesDir, name);
    cpSync(source, target, {
      recursive: true,
      dereference: true,
      filter: (path) => {
        const rel = relative(source, path).split('\\').join('/');
        if (rel === '' || rel.startsWith('node_modules')) return rel === '';
        return keep(rel, options.arch);
      },
    });
  }

  const binding = join(
    modulesDir,
    'onnxruntime-node',
    'bin',
    'napi-v6',
    'linux',
    options.arch,
    'onnxruntime_binding.node',
  );
  if (!existsSync(binding) || statSync(binding).size === 0) {
    throw new Error(`onnxruntime-node has no linux/${options.arch} binding at ${binding}`);
  }
  const manifest = JSON.parse(readFileSync(join(modulesDir, 'onnxruntime-node', 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  const files = listFiles(outDir).map((file) => relative(outDir, file).split('\\').join('/'));
  if (files.some((file) => file.includes('@aws-sdk/'))) {
    throw new Error('the onnxruntime layer must not contain @aws-sdk/*');
  }
  return {
    outDir,
    arch: options.arch,
    onnxruntimeVersion: typeof manifest.version === 'string' ? manifest.version : 'unknown',
    unzippedBytes: directorySizeBytes(outDir),
    files,
  };
}

/** Lambda architecture name → Node's `process.arch` / onnxruntime folder name. */
export function layerArchFor(lambdaArchitecture: 'arm64' | 'x86_64'): LayerArch {
  return lambdaArchitecture === 'arm64' ? 'arm64' : 'x64';
}

function parseArgs(argv: readonly string[]): LayerBuildOptions {
  let arch: LayerArch = 'arm64';
  let outDir = join(REPO_ROOT, 'layers', 'onnxruntime', 'build', arch);
  let outGiven = false;
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--arch' && (value === 'arm64' || value === 'x64')) {
      arch = value;
      i += 1;
    } else if (flag === '--out' && value !== undefined) {
      outDir = resolve(value);
      outGiven = true;
      i += 1;
    } else {
      throw new Error(`usage: build.ts [--arch arm64|x64] [--out <dir>] (unexpected ${flag ?? ''})`);
    }
  }
  if (!outGiven) outDir = join(REPO_ROOT, 'layers', 'onnxruntime', 'build', arch);
  return { arch, outDir };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = buildOnnxRuntimeLayer(parseArgs(process.argv.slice(2)));
  const mb = (result.unzippedBytes / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `onnxruntime-node ${result.onnxruntimeVersion} layer for linux/${result.arch}: ${result.files.length} files, ${mb} MB unzipped → ${result.outDir}\n`,
  );
}
