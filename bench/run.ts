/**
 * `npm run bench -- <name>`: runs bench/<name>.ts and writes bench/results/<name>.json.
 *
 * A benchmark module's default export returns its figures: `anchor` (the reference measured in the
 * same run), `ours`, and `ratio` (ours relative to the anchor, stated by each benchmark), plus
 * anything else it measured.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchResult {
  anchor: Record<string, unknown>;
  ours: Record<string, unknown>;
  ratio: number | Record<string, number>;
  [extra: string]: unknown;
}

export type Benchmark = (args: string[]) => Promise<BenchResult>;

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  // --out FILE writes the results elsewhere (to keep several runs of one benchmark side by side).
  const outAt = rest.indexOf('--out');
  const out = outAt >= 0 ? rest[outAt + 1] : undefined;
  const args = outAt >= 0 ? [...rest.slice(0, outAt), ...rest.slice(outAt + 2)] : rest;
  const available = readdirSync(__dirname)
    .filter(f => f.endsWith('.ts') && f !== 'run.ts')
    .map(f => f.replace(/\.ts$/, ''));
  if (!name || !available.includes(name)) {
    console.error(`usage: npm run bench -- <name>   (one of: ${available.join(', ')})`);
    process.exit(2);
  }
  const module = (await import(join(__dirname, `${name}.ts`))) as { default: Benchmark };
  const started = new Date().toISOString();
  const result = await module.default(args);
  const output = join(__dirname, 'results');
  if (!existsSync(output)) {
    mkdirSync(output, { recursive: true });
  }
  const file = out ?? join(output, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ benchmark: name, started, ...result }, null, 2)}\n`);
  console.log(JSON.stringify({ ratio: result.ratio }, null, 2));
  console.log(`wrote ${file}`);
}

void main();
