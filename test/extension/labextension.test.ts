import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, it } from 'node:test';

const root = join(__dirname, '..', '..');
const jupyter = join(root, '.venv', 'bin', 'jupyter');

describe('the prebuilt JupyterLab extension', () => {
  it('is installed by `pip install .` and listed by JupyterLab as enabled and OK', () => {
    assert.ok(existsSync(jupyter), `${jupyter} is missing: run bash scripts/setup.sh first`);
    const result = spawnSync(jupyter, ['labextension', 'list'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    // JupyterLab prints the list on stderr or stdout depending on the version, with colour codes.
    const listing = stripVTControlCharacters(`${result.stdout}${result.stderr}`);
    assert.match(
      listing,
      /^\s+scanflow v\d+\.\d+\.\d+ enabled OK \(python, jupyterlab-scanflow\)$/m
    );
  });
});
