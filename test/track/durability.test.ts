/**
 * Durability: a `scanflow tracker` process serves 4 writer processes logging at full speed; it is
 * killed with SIGKILL mid-stream and restarted on the same store. Every write the server had
 * acknowledged must be there, and the store must open cleanly (SQLite integrity check).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { RestStore } from '../../src/track';
import { ROOT, temporaryFolder } from './helpers';

const folder = temporaryFolder('durability');
const children: ChildProcess[] = [];
after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  folder.remove();
});

function node(script: string, args: string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/track', script), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  children.push(child);
  return child;
}

/** Starts `scanflow tracker` on a free port; resolves with the process and its URL. */
async function startServer(
  store: string
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = node('scanflow-cli.ts', ['tracker', '--port', '0', '--store', store]);
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.once('exit', code => reject(new Error(`scanflow tracker exited with ${code}: ${text}`)));
  });
  return { child, url, output: () => text };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve()
      : child.once('exit', () => resolve())
  );
}

test('SIGKILL mid-stream loses no acknowledged write', { timeout: 120_000 }, async () => {
  const store = join(folder.path, 'tracker.db');
  const first = await startServer(store);
  const client = new RestStore(first.url);
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++)
    runIds.push((await client.createRun('0', { runName: `writer-${i}` })).info.run_id);
  client.close();

  const acks = runIds.map(() => ({ single: [] as number[], batch: [] as number[], stopped: '' }));
  const writers = runIds.map((runId, i) => {
    const writer = node('durability-writer.ts', [first.url, runId]);
    let pending = '';
    writer.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, rest] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
        if (kind === 'single' || kind === 'batch') acks[i][kind].push(Number(rest));
        if (kind === 'stopped') acks[i].stopped = rest;
      }
    });
    return writer;
  });

  // Let every writer get well under way, then kill the server without warning.
  const deadline = Date.now() + 60_000;
  while (acks.some(a => a.batch.length < 50) && Date.now() < deadline)
    await new Promise(r => setTimeout(r, 50));
  first.child.kill('SIGKILL');
  await Promise.all(writers.map(exited));
  assert.ok(
    acks.every(a => a.batch.length >= 50 && a.stopped !== ''),
    `writers did not all get going and then stop: ${JSON.stringify(acks.map(a => [a.batch.length, a.stopped]))}`
  );

  const second = await startServer(store);
  const reader = new RestStore(second.url);
  try {
    for (const [i, runId] of runIds.entries()) {
      const singles = new Set(
        (await reader.getFullMetricHistory(runId, 'single')).map(m => m.step)
      );
      const batches = new Set((await reader.getFullMetricHistory(runId, 'batch')).map(m => m.step));
      const lostSingles = acks[i].single.filter(step => !singles.has(step));
      const lostBatches = acks[i].batch.filter(b =>
        Array.from({ length: 10 }, (_, j) => b * 10 + j).some(step => !batches.has(step))
      );
      assert.deepEqual(lostSingles, [], `writer ${i} lost acknowledged single metrics`);
      assert.deepEqual(lostBatches, [], `writer ${i} lost acknowledged batches`);
      // A batch is one transaction: it is there whole or not at all.
      assert.equal(batches.size % 10, 0, `writer ${i} has a partial batch`);
    }
  } finally {
    reader.close();
  }
  const db = new Database(store, { readonly: true });
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();

  second.child.kill('SIGTERM');
  await exited(second.child);
  assert.equal(second.child.exitCode, 0, second.output());
  assert.match(second.output(), /stopped \(SIGTERM\)/);
});
