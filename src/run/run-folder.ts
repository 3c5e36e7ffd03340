/**
 * The folder of a run on the local executor, `<workdir>/<run id>`: the steps' working folders
 * (steps/), the outputs they share (outputs/) and a record, run.json, that names the process
 * running it. The run removes its folder when it ends, all but outputs/ when the outputs are kept;
 * should its process die first, the reaper does; `scanflow clean` removes what is left of the runs
 * whose process is gone.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { identify, isAlive, type ProcessIdentity } from './process-group';

/** run.json: the process running the run; none once the run has ended with its outputs kept. */
interface RunRecord {
  owner?: ProcessIdentity;
}

const RECORD = 'run.json';
const OUTPUTS = 'outputs';

/** The folder that holds one folder per local run: `workdir`, by default `<tmp>/scanflow-runs`. */
export function runsRoot(workdir?: string): string {
  return resolve(workdir ?? join(tmpdir(), 'scanflow-runs'));
}

/** Creates the run's folder and its outputs folder, recorded as run by this process. */
export function openRunFolder(dir: string): void {
  mkdirSync(join(dir, OUTPUTS), { recursive: true });
  writeRecord(dir, { owner: identify() });
}

/**
 * The run is over: removes its folder or, with `keepOutputs`, all of it but the outputs (and the
 * record, which tells `scanflow clean` that the folder is a run's).
 */
export function removeRunFolder(dir: string, keepOutputs: boolean): void {
  if (!keepOutputs) {
    rmSync(dir, { recursive: true, force: true });
  } else if (existsSync(dir)) {
    for (const entry of readdirSync(dir)) {
      if (entry !== OUTPUTS) rmSync(join(dir, entry), { recursive: true, force: true });
    }
    writeRecord(dir, {});
  }
}

/**
 * `scanflow clean` for local runs: removes the folders under `root` of the runs (all, or only
 * `runId`) whose process has ended, outputs included unless `keepOutputs`. Leaves alone the runs
 * in progress and any folder without a run record. Returns the folders it removed something from.
 */
export function removeEndedRunFolders(
  root: string,
  options: { runId?: string; keepOutputs: boolean }
): string[] {
  if (!existsSync(root)) {
    return [];
  }
  const ended = readdirSync(root)
    .filter(id => options.runId === undefined || id === options.runId)
    .map(id => join(root, id))
    .filter(dir => {
      const record = readRecord(dir);
      return record !== undefined && !(record.owner && isAlive(record.owner));
    });
  // With the outputs kept, a run that ended normally has nothing more to remove.
  const removable = ended.filter(
    dir =>
      !options.keepOutputs || readdirSync(dir).some(entry => entry !== OUTPUTS && entry !== RECORD)
  );
  removable.forEach(dir => removeRunFolder(dir, options.keepOutputs));
  return removable;
}

function writeRecord(dir: string, record: RunRecord): void {
  writeFileSync(join(dir, RECORD), JSON.stringify(record));
}

/** The folder's run record; undefined when it has none (not a run's folder). */
function readRecord(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}
