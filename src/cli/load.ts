import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fromJSON, fromYAML, parseWorkflow } from '../workflow';
import type { WorkflowSpec } from '../workflow';
import { InputError } from './errors';

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/**
 * Loads a workflow definition: the default export of a `.ts`/`.js` module, or a `.json`/`.yaml`
 * file that matches the workflow schema. Throws DefinitionError (bad definition) or InputError.
 */
export function loadWorkflow(path: string): WorkflowSpec {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new InputError(
      `${path}: no such file`,
      'give the path of a .ts, .js, .json or .yaml workflow'
    );
  }
  const extension = extname(file).toLowerCase();
  if (extension === '.json') {
    return fromJSON(readFileSync(file, 'utf8'), path);
  }
  if (extension === '.yaml' || extension === '.yml') {
    return fromYAML(readFileSync(file, 'utf8'), path);
  }
  if (MODULE_EXTENSIONS.has(extension)) {
    const exports = importModule(file);
    // `export default workflow(...)`, or a CommonJS `module.exports = workflow(...)`.
    const definition =
      exports && typeof exports === 'object' && 'default' in exports
        ? (exports as { default: unknown }).default
        : exports && typeof exports === 'object' && 'steps' in exports
          ? exports
          : undefined;
    if (definition === undefined) {
      throw new InputError(
        `${path}: the module has no default export`,
        'end the module with `export default workflow(...)`'
      );
    }
    return parseWorkflow(definition, path);
  }
  throw new InputError(
    `${path}: unknown kind of file '${extension || '(none)'}'`,
    'use a .ts/.js module whose default export is a workflow, or a .json/.yaml definition'
  );
}

function importModule(file: string): unknown {
  // tsx compiles TypeScript on the fly. Its API types sit behind package "exports", which the
  // Node10 resolution that tslab needs cannot see, hence the typed require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tsx = require('tsx/cjs/api') as { require: (id: string, from: string) => unknown };
  try {
    return tsx.require(file, __filename);
  } catch (error) {
    throw new InputError(
      `${file}: the module failed to load: ${(error as Error).message}`,
      'fix the error in the module'
    );
  }
}
