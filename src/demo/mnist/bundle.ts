/**
 * Bundles the step program (steps.ts, with TensorFlow.js's pure JavaScript cpu backend and the
 * digits) into one file, `<dir>/steps.js`, which the step images copy: images get no npm. The
 * output is deterministic, so an unchanged program keeps its image's content hash (a cached build).
 */
import { buildSync } from 'esbuild';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where the bundle goes: a build output, so under lib/ (which git, ESLint and Prettier skip); the
 * same folder whether this module runs from src/ (tsx) or lib/ (both sit two levels below the root).
 */
export const STEPS_BUILD_DIR = resolve(__dirname, '../../../lib/demo-build/mnist');

/** Writes `<dir>/steps.js` and returns its path. Needs esbuild (a devDependency). */
export function bundleSteps(dir: string = STEPS_BUILD_DIR): string {
  // Run from src/ (tsx) the entry is the TypeScript source; from lib/ the compiled JavaScript.
  const entry = [join(__dirname, 'steps.ts'), join(__dirname, 'steps.js')].find(existsSync);
  if (entry === undefined) throw new Error(`The MNIST step program is missing from ${__dirname}.`);
  const outfile = join(dir, 'steps.js');
  // Synchronous, so that a workflow definition can bundle while it is loaded.
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    // Native TensorFlow and the wasm backend need files beside the bundle: the steps use the
    // cpu backend (src/check/backend.ts falls back to it when these imports fail).
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']
  });
  return outfile;
}
