/** Text from processes and containers: a character split across two chunks comes out whole. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCommand } from '../../src/deploy/docker-cli';
import { LineSplitter } from '../../src/run/lines';

describe('decoding output', () => {
  it('LineSplitter joins a character split across chunks', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(line => lines.push(line));
    const bytes = Buffer.from('été ✔\nfin');
    for (let i = 0; i < bytes.length; i++) splitter.push(bytes.subarray(i, i + 1));
    splitter.end();
    assert.deepEqual(lines, ['été ✔', 'fin']);
  });

  it('runCommand decodes a character its process wrote in two pieces', async () => {
    // 0xc3 0xa9 is "é": the first byte goes out alone, the rest 100 ms later.
    const script =
      'process.stdout.write(Buffer.from([0xc3]));' +
      'setTimeout(() => process.stdout.write(Buffer.from([0xa9, 0x0a])), 100)';
    const result = await runCommand(process.execPath, ['-e', script]);
    assert.equal(result.stdout, 'é\n');
  });
});
