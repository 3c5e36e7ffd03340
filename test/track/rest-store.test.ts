/**
 * The client's handling of a connection fault that a real server causes only by chance (a kept-alive
 * connection closed just as a request goes out, as uvicorn does after its idle timeout): a tiny
 * stand-in server makes it happen every time.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { RestStore } from '../../src/track';
import { listen } from '../../src/track/server';

async function flakyServer(
  dropSecondRequestOnAConnection: boolean
): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const seen = new WeakMap<Socket, number>();
  const server = createServer((request, response) => {
    requests++;
    const count = (seen.get(request.socket) ?? 0) + 1;
    seen.set(request.socket, count);
    if (dropSecondRequestOnAConnection && count === 2) {
      request.socket.destroy();
      return;
    }
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{"experiment_id":"7"}');
    });
  });
  const { url } = await listen(server, '127.0.0.1', 0);
  return { server, url, requests: () => requests };
}

test('a request on a kept-alive connection the server dropped is sent again on a new one', async () => {
  const { server, url, requests } = await flakyServer(true);
  const client = new RestStore(url);
  try {
    assert.equal(await client.createExperiment('a'), '7');
    assert.equal(await client.createExperiment('b'), '7');
    assert.equal(requests(), 3);
  } finally {
    client.close();
    server.close();
  }
});

test('a refused connection is reported, not retried forever', async () => {
  const { server, url } = await flakyServer(false);
  server.close();
  const client = new RestStore(url);
  await assert.rejects(client.createExperiment('a'), /ECONNREFUSED/);
  client.close();
});

test('a bad tracker URL is refused with the fix', () => {
  assert.throws(() => new RestStore('localhost:5000'), /only http and https|Invalid tracker URL/);
  assert.throws(() => new RestStore('not a url'), /give an http\(s\) URL/);
});
