/**
 * The gateway in front of replicas, on loopback with three real model servers: it spreads requests
 * over them, sends a request to the next one when a replica is gone, and says so when none is left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ModelServer } from '../../src/serve';
import { Gateway } from '../../src/serve/gateway';
import { invoke, rowsOf, savedClassifier, temporaryFolder, unseen } from './fixtures';

const folder = temporaryFolder('serve-gateway');
const servers: ModelServer[] = [];
let upstreams: string[] = [];
let gateway: Gateway;

before(async () => {
  const { model, path } = await savedClassifier(folder.path);
  model.dispose();
  for (let i = 0; i < 3; i++) servers.push(await ModelServer.start({ model: path, port: 0 }));
  upstreams = servers.map(s => s.url.replace('http://', ''));
  gateway = await Gateway.start({ upstreams: async () => upstreams, port: 0, restMs: 60_000 });
});

after(async () => {
  await gateway.close();
  for (const server of servers) await server.close();
  folder.remove();
});

const body = { inputs: rowsOf(unseen.images.slice(0, 1)) };

describe('Gateway', () => {
  it('sends requests to each replica in turn', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await invoke(gateway.url, body)).status, 200);
    assert.deepEqual(
      gateway.replicas.map(r => r.served),
      [10, 10, 10]
    );
  });

  it('sends a request to the next replica when one is gone, then leaves the gone one alone', async () => {
    await servers[1].close();
    const before = gateway.replicas.map(r => r.served);
    for (let i = 0; i < 12; i++) assert.equal((await invoke(gateway.url, body)).status, 200);
    const served = gateway.replicas.map((r, i) => r.served - before[i]);
    assert.equal(served[1], 0);
    assert.equal(served[0] + served[2], 12);
    assert.ok(served[0] >= 5 && served[2] >= 5, `shares ${served.join(', ')}`);
  });

  it('answers 503 with a message when no replica can answer', async () => {
    await servers[0].close();
    await servers[2].close();
    const answer = await invoke(gateway.url, body);
    assert.equal(answer.status, 503);
    assert.match(String(answer.body.message), /No replica could answer .*ECONNREFUSED.*try again/);
  });
});
