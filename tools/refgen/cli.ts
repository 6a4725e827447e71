// npx tsx tools/refgen/cli.ts [--out FILE] [--small] [--seed N]
// Writes a reference-rule checkpoint: by default ComfyUI's full-size reference SD1.5 file into the
// test cache (checked against its sha256); --small a small file in the same key layout.
import { parseArgs } from 'node:util';
import { ensureSd15Reference, writeRuleCheckpoint } from './generate';
import { SD15, SD15_SMALL } from './layout';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, small: { type: 'boolean', default: false }, seed: { type: 'string', default: '1' } } });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  if (!values.out && !values.small && seed === 1) {
    console.log(await ensureSd15Reference(undefined, (m) => console.log(m)));
    return;
  }
  if (!values.out) throw new Error('--out FILE is needed with --small or another --seed');
  const { params } = await writeRuleCheckpoint(values.out, values.small ? SD15_SMALL : SD15, seed);
  console.log(`${values.out}: ${params.toLocaleString('en')} parameters`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
