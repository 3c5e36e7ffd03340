/**
 * One writer of the durability test: logs to its run as fast as it can, alternating single metrics
 * and batches of 10, and prints each write the server acknowledged. It stops at the first failure
 * (the server was killed). Usage: durability-writer.ts <url> <run id>
 */
import { RestStore } from '../../src/track';

const [url, runId] = process.argv.slice(2);
const client = new RestStore(url, { timeoutMs: 5000 });

async function write(): Promise<void> {
  for (let i = 0; ; i++) {
    await client.logMetric(runId, { key: 'single', value: i, step: i, timestamp: Date.now() });
    process.stdout.write(`single ${i}\n`);
    await client.logBatch(runId, {
      metrics: Array.from({ length: 10 }, (_, j) => ({
        key: 'batch',
        value: i * 10 + j,
        step: i * 10 + j,
        timestamp: Date.now()
      }))
    });
    process.stdout.write(`batch ${i}\n`);
  }
}

write().catch((error: unknown) => {
  process.stdout.write(`stopped ${(error as Error).message.split('\n')[0]}\n`);
  client.close();
});
