/**
 * Our TypeScript client (RestStore) runs one scenario with exact read-back against our server and
 * against a real `mlflow server` (SQLite backend, artifacts proxied) started here; then scanflow's run
 * metadata is recorded and read back through each.
 */
import { after, test } from 'node:test';
import { RestStore, startTracker } from '../../src/track';
import { startMlflowServer, temporaryFolder } from './helpers';
import { clientScenario, metadataScenario } from './scenario';

const folder = temporaryFolder('ts-client');
after(() => folder.remove());

test('our client against our server', async () => {
  const tracker = await startTracker({ storePath: `${folder.path}/ours/tracker.db` });
  const client = new RestStore(tracker.url);
  try {
    await clientScenario(client, 'ours');
    await metadataScenario(client, tracker.url);
  } finally {
    client.close();
    await tracker.close();
  }
});

test('our client against a real mlflow server', { timeout: 400_000 }, async () => {
  const server = await startMlflowServer(folder.path);
  const client = new RestStore(server.url);
  try {
    await clientScenario(client, 'mlflow', 'clamped');
    await metadataScenario(client, server.url);
  } finally {
    client.close();
    await server.stop();
  }
});
