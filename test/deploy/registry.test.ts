/**
 * `--registry`: every image of a deployment is tagged with a local registry's name and pushed
 * there (Debian's docker-registry on loopback), and the files name those tags.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { loadWorkflow } from '../../src/cli/load';
import { exportWorkflow } from '../../src/deploy/export';
import { docker } from '../run/helpers';
import { HELLO, deploymentName, freshDir } from './helpers';

let registry: ChildProcess | undefined;
let address = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

before(async () => {
  const dir = freshDir('scanflow-registry-');
  address = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${address}\n`
  );
  registry = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${address}/v2/`).then(
      r => r.ok,
      () => false
    );
    if (ok) return;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  assert.fail(`docker-registry did not answer on ${address}`);
});

after(async () => {
  registry?.kill();
  // The registry's tags of the test's images, on this engine.
  const images = await docker.listImages();
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag.startsWith(`${address}/`))
        await docker
          .getImage(tag)
          .remove()
          .catch(() => undefined);
    }
  }
});

test('export --build --registry pushes every image there, and the stack file names its tags', async () => {
  const dir = freshDir();
  const result = await exportWorkflow(loadWorkflow(HELLO), {
    target: 'swarm',
    outDir: dir,
    baseDir: join(HELLO, '..'),
    build: true,
    registry: address,
    name: deploymentName('registry')
  });
  const stack = parse(readFileSync(result.main, 'utf8')) as {
    services: Record<string, { image: string }>;
  };
  const images = new Set(Object.values(stack.services).map(s => s.image));
  assert.deepEqual([...images].map(i => i.replace(/:[^:/]+$/, '')).sort(), [
    `${address}/scanflow/node`,
    `${address}/scanflow/tracker`
  ]);
  const catalog = (await (await fetch(`http://${address}/v2/_catalog`)).json()) as {
    repositories: string[];
  };
  assert.deepEqual(catalog.repositories.sort(), ['scanflow/node', 'scanflow/tracker']);
  for (const image of images) {
    const [repository, tag] = image.slice(address.length + 1).split(':');
    const tags = (await (await fetch(`http://${address}/v2/${repository}/tags/list`)).json()) as {
      tags: string[];
    };
    assert.ok(tags.tags.includes(tag), `${image} is in the registry`);
  }
});
