import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LabelingSession } from '../../src/improve/session';

const SAMPLES = 20_000;

describe('a labeling session across a process restart', () => {
  it('keeps every label a killed process had saved, and resumes where it stopped', async () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'scanflow-restart-')), 'session');
    const classes = ['even', 'odd'];
    LabelingSession.create(folder, {
      classes,
      samples: Array.from({ length: SAMPLES }, (_, i) => ({ id: `n${i}`, guess: classes[i % 2] }))
    });

    // The child labels as fast as it can; kill it hard once it has reported 200 saved labels.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'fixtures', 'label-until-killed.ts'), folder],
      {
        stdio: ['ignore', 'pipe', 'inherit']
      }
    );
    const acknowledged: string[] = [];
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>(resolve =>
      child.on('exit', (_code, signal) => resolve(signal))
    );
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      acknowledged.push(...lines);
      if (acknowledged.length >= 200) child.kill('SIGKILL');
    });
    assert.equal(await exited, 'SIGKILL', 'the child was killed before it finished');

    const resumed = LabelingSession.open(folder, { labeler: 'parent' });
    const labeled = new Set(resumed.labels.map(l => l.sample));
    for (const id of acknowledged)
      assert.ok(labeled.has(id), `label of ${id} was acknowledged but lost`);
    assert.ok(resumed.labels.length < SAMPLES, 'the child was killed mid-way');
    assert.ok(
      resumed.labels.every(
        l => l.by === 'child' && l.label === classes[Number(l.sample.slice(1)) % 2]
      )
    );
    assert.deepEqual(resumed.rejected, []);
    assert.equal(resumed.unreadableFiles.size, 0);
    const visible = readdirSync(join(folder, 'labels')).filter(f => !f.startsWith('.'));
    assert.equal(visible.length, resumed.labels.length, 'one file per label, no partial documents');

    // The parent finishes the job from where the child stopped.
    const before = resumed.labels.length;
    for (const sample of resumed.pending.slice(0, 10))
      resumed.label(sample.id, sample.guess ?? 'even');
    assert.equal(LabelingSession.open(folder).labels.length, before + 10);
  });
});
