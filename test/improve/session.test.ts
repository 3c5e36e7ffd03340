import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { LabelError, LabelTimeoutError, SessionError } from '../../src/improve/errors';
import { SimulatedOracle } from '../../src/improve/oracle';
import { labelingSessionData } from '../../src/improve/bundle';
import { toMimeBundle } from '../../src/notebook/display';
import { LabelingSession } from '../../src/improve/session';

const CLASSES = ['cat', 'dog', 'bird'];

function folder(): string {
  return join(mkdtempSync(join(tmpdir(), 'scanflow-improve-')), 'round-1');
}

function newSession(dir = folder()): LabelingSession {
  return LabelingSession.create(dir, {
    classes: CLASSES,
    samples: [
      { id: 'a', guess: 'cat', score: 0.9 },
      { id: 'b', guess: 'dog', score: 0.5 },
      { id: 'c', row: { weight: 4.2, legs: 2 } }
    ],
    labeler: 'ana'
  });
}

function labelFiles(session: LabelingSession): string[] {
  return readdirSync(join(session.folder, 'labels')).filter(f => !f.startsWith('.'));
}

/** Writes a label file as another writer would (the widget through the Contents API). */
function drop(session: LabelingSession, name: string, document: unknown): void {
  writeFileSync(join(session.folder, 'labels', name), JSON.stringify(document));
}

describe('labeling session', () => {
  it('saves each label as it is given, with who and when, and counts progress', () => {
    const session = newSession();
    const before = Date.now();
    const record = session.label('b', 'dog');
    assert.equal(record.by, 'ana');
    assert.ok(Date.parse(record.at) >= before - 1000);
    session.label('a', null, { by: 'ben' }); // skipped: the labeler cannot tell
    assert.deepEqual(session.progress, { labeled: 1, skipped: 1, total: 3 });
    assert.deepEqual(
      session.pending.map(s => s.id),
      ['c']
    );
    const saved = labelFiles(session).map(
      f =>
        JSON.parse(readFileSync(join(session.folder, 'labels', f), 'utf8')) as Record<
          string,
          unknown
        >
    );
    assert.deepEqual(saved.map(d => [d.sample, d.label, d.by]).sort(), [
      ['a', null, 'ben'],
      ['b', 'dog', 'ana']
    ]);
  });

  it('refuses bad labels with the reason and the state unchanged', () => {
    const session = newSession();
    session.label('a', 'cat');
    const files = labelFiles(session);
    const cases: Array<[string, string | null, RegExp]> = [
      [
        'a',
        'dog',
        /Sample 'a' already has the label "cat" \(by ana at .*\); a sample takes one label/
      ],
      ['b', 'horse', /'horse' is not a class of session round-1: use one of 'cat', 'dog', 'bird'/],
      ['zz', 'cat', /Sample 'zz' is not in session round-1/]
    ];
    for (const [sample, label, message] of cases) {
      assert.throws(
        () => session.label(sample, label),
        (error: Error) => {
          assert.ok(error instanceof LabelError);
          assert.match(error.message, message);
          return true;
        }
      );
    }
    assert.throws(() => session.label('b', 'dog', { by: ' ' }), /needs 'by': who gave it/);
    assert.throws(() => session.label('b', 'dog', { at: new Date('never') }), /invalid Date/);
    assert.deepEqual(labelFiles(session), files);
    assert.deepEqual(
      session.labels.map(l => [l.sample, l.label]),
      [['a', 'cat']]
    );
    assert.equal(session.pending.length, 2);
  });

  it('accepts label files from other writers and moves refused ones to rejected/ with the reason', () => {
    const session = newSession();
    session.label('a', 'cat');
    const at = new Date().toISOString();
    drop(session, 'b.1.json', { sample: 'b', label: 'dog', by: 'widget-user', at });
    drop(session, 'a.2.json', { sample: 'a', label: 'dog', by: 'widget-user', at }); // duplicate
    drop(session, 'c.3.json', { sample: 'c', label: 'fish', by: 'widget-user', at }); // no such class
    drop(session, 'x.4.json', { sample: 'x', label: 'cat', by: 'widget-user', at }); // no such sample
    drop(session, 'c.5.json', { sample: 'c', label: 'bird', at }); // who?
    const fresh = session.refresh();
    assert.deepEqual(
      fresh.map(l => [l.sample, l.label, l.by]),
      [['b', 'dog', 'widget-user']]
    );
    assert.deepEqual(session.rejected.map(r => r.file).sort(), [
      'a.2.json',
      'c.3.json',
      'c.5.json',
      'x.4.json'
    ]);
    const reason = JSON.parse(
      readFileSync(join(session.folder, 'rejected', 'c.3.json'), 'utf8')
    ) as {
      reason: string;
      document: { label: string };
    };
    assert.match(reason.reason, /'fish' is not a class/);
    assert.equal(reason.document.label, 'fish');
    assert.equal(labelFiles(session).length, 2); // the two accepted labels stay
    assert.equal(session.labelOf('a')?.label, 'cat');
    // After a restart the refusals are still known, from rejected/.
    const resumed = LabelingSession.open(session.folder);
    assert.deepEqual(resumed.rejected.map(r => r.file).sort(), [
      'a.2.json',
      'c.3.json',
      'c.5.json',
      'x.4.json'
    ]);
    assert.match(
      resumed.rejected.find(r => r.file === 'x.4.json')?.reason ?? '',
      /'x' is not in session/
    );
    assert.equal(resumed.labels.length, 2);
  });

  it('keeps the earlier of two labels for one sample that arrive together', () => {
    const session = newSession();
    drop(session, 'zzz.json', { sample: 'b', label: 'dog', by: 'ana', at: '2026-01-01T10:00:00Z' });
    drop(session, 'aaa.json', { sample: 'b', label: 'cat', by: 'ben', at: '2026-01-01T10:00:05Z' });
    session.refresh();
    assert.equal(session.labelOf('b')?.label, 'dog');
    assert.deepEqual(
      session.rejected.map(r => r.file),
      ['aaa.json']
    );
  });

  it('resumes from its folder with every label, and refuses to overwrite a session', () => {
    const dir = folder();
    const first = newSession(dir);
    first.label('a', 'cat');
    first.label('c', 'bird', { by: 'ben' });
    const resumed = LabelingSession.open(dir);
    assert.equal(resumed.id, 'round-1');
    assert.deepEqual(resumed.classes, CLASSES);
    assert.deepEqual(resumed.labels.map(l => [l.sample, l.label, l.by]).sort(), [
      ['a', 'cat', 'ana'],
      ['c', 'bird', 'ben']
    ]);
    assert.throws(() => resumed.label('a', 'dog'), LabelError);
    assert.throws(() => newSession(dir), {
      name: 'SessionError',
      message: /holds a session already/
    });
    assert.throws(() => LabelingSession.open(folder()), /holds no labeling session/);
  });

  it('adds samples for another round, and refuses ids already used', () => {
    const session = newSession();
    session.addSamples([{ id: 'd' }, {}]);
    assert.deepEqual(
      session.samples.map(s => s.id),
      ['a', 'b', 'c', 'd', 's4']
    );
    assert.throws(() => session.addSamples([{ id: 'a' }]), /'a' is used twice/);
    assert.equal(LabelingSession.open(session.folder).samples.length, 5);
  });

  it('refuses bad definitions: one class, duplicate classes, unsafe ids, no samples', () => {
    const bad: Array<[Parameters<typeof LabelingSession.create>[1], RegExp]> = [
      [{ classes: ['only'], samples: [{}] }, /at least two classes/],
      [{ classes: ['a', 'a'], samples: [{}] }, /'a' is listed twice/],
      [{ classes: CLASSES, samples: [{ id: '../x' }] }, /cannot name a file/],
      [{ classes: CLASSES, samples: [] }, /at least one sample/],
      [{ classes: CLASSES, samples: [{ guess: 'fish' }] }, /guess 'fish'/]
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => LabelingSession.create(folder(), options),
        (e: Error) => {
          assert.ok(e instanceof SessionError);
          assert.match(e.message, message);
          return true;
        }
      );
    }
  });

  it('stores grey images as PNG data URLs with the same pixels', () => {
    const values = Array.from({ length: 28 * 28 }, (_, i) => (i % 28) / 27);
    const session = LabelingSession.create(folder(), {
      classes: ['0', '1'],
      samples: [{ id: 'digit', image: { width: 28, height: 28, values } }]
    });
    const url = session.samples[0].image ?? '';
    assert.match(url, /^data:image\/png;base64,/);
    const png = Buffer.from(url.split(',')[1], 'base64');
    assert.equal(png.readUInt32BE(16), 28); // IHDR width
    assert.equal(png.readUInt32BE(20), 28); // IHDR height
    const idatLength = png.readUInt32BE(33);
    assert.equal(png.toString('ascii', 37, 41), 'IDAT');
    const raw = inflateSync(png.subarray(41, 41 + idatLength));
    const firstRow = Array.from(raw.subarray(1, 29));
    assert.deepEqual(
      firstRow,
      values.slice(0, 28).map(v => Math.round(v * 255))
    );
  });
});

describe('waiting for labels from the folder', () => {
  it('the kernel awaits the labels the simulated oracle writes, batch by batch', async () => {
    const session = newSession();
    const oracle = SimulatedOracle.fromMap(
      new Map([
        ['a', 'cat'],
        ['b', 'dog'],
        ['c', 'bird']
      ]),
      { by: 'oracle' }
    );
    const next = session.nextLabels({ timeoutMs: 10_000 });
    setTimeout(() => oracle.answer(session.folder, 2), 50);
    const batch = await next;
    assert.deepEqual(
      batch.map(l => [l.sample, l.label, l.by]),
      [
        ['a', 'cat', 'oracle'],
        ['b', 'dog', 'oracle']
      ]
    );
    const done = session.complete({ timeoutMs: 10_000 });
    setTimeout(() => oracle.answer(session.folder), 50);
    const all = await done;
    assert.equal(all.length, 3);
    assert.ok(session.isComplete);
    // complete() delivered everything; with nothing pending, nextLabels does not wait.
    assert.deepEqual(await session.nextLabels(), []);
    session.close();
  });

  it('a wait ends with a LabelTimeoutError naming the progress, and the session still works', async () => {
    const session = newSession();
    session.label('a', 'cat');
    await session.nextLabels();
    await assert.rejects(session.nextLabels({ timeoutMs: 100 }), (e: Error) => {
      assert.ok(e instanceof LabelTimeoutError);
      assert.match(e.message, /1 of 3 samples have labels/);
      return true;
    });
    session.label('b', 'dog');
    assert.deepEqual(
      (await session.nextLabels({ timeoutMs: 1000 })).map(l => l.sample),
      ['b']
    );
    session.close();
  });
});

describe('the labeling bundle', () => {
  it('carries samples, classes, progress, labels so far and the folder, with a text summary', () => {
    const session = newSession();
    session.label('a', 'cat', { by: 'ana' });
    const bundle = session.toMimeBundle();
    const data = bundle.data['application/vnd.scanflow.labeling+json'] as ReturnType<
      LabelingSession['toBundle']
    >;
    assert.equal(data.version, 1);
    assert.equal(data.session, 'round-1');
    assert.deepEqual(data.classes, CLASSES);
    assert.deepEqual(
      data.samples.map(s => [s.id, s.guess]),
      [
        ['a', 'cat'],
        ['b', 'dog'],
        ['c', undefined]
      ]
    );
    assert.deepEqual(data.samples[2].row, { weight: 4.2, legs: 2 });
    assert.deepEqual(data.progress, { labeled: 1, skipped: 0, total: 3 });
    assert.equal(data.labels.a.label, 'cat');
    assert.equal(data.absoluteFolder, session.folder);
    assert.equal(data.labelsDir, 'labels');
    // The bundle survives the trip through JSON (tslab sends strings).
    assert.deepEqual(JSON.parse(JSON.stringify(data)), data);
    assert.equal(
      bundle.data['text/plain'],
      [
        'labeling session round-1: 1 of 3 samples labeled',
        'classes: cat, dog, bird',
        `folder: ${session.folder} (one JSON file per label in labels/)`,
        'to label: b (guess dog, score 0.500), c'
      ].join('\n')
    );
  });

  it("is what the notebook bridge's show() displays", () => {
    const session = newSession();
    assert.deepEqual(toMimeBundle(session), session.toMimeBundle());
  });

  it('names the folder relative to the working directory when inside it', () => {
    const session = newSession();
    const parent = join(session.folder, '..');
    assert.equal(labelingSessionData(session, parent).folder, 'round-1');
    assert.equal(labelingSessionData(session, '/somewhere/else').folder, session.folder);
  });
});
