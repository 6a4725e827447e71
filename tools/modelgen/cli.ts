// npx tsx tools/modelgen/cli.ts --out models/checkpoints/marble-tiny --size tiny --variant fp32 --seed 1
import { parseArgs } from 'node:util';
import { isModelSize, VARIANT_TWEAKS } from './spec';
import { ensureDefaultModels, generateModelFolder } from './writeModelFolder';

const USAGE = `usage: tsx tools/modelgen/cli.ts --out DIR [--size tiny|medium] [--variant NAME[,NAME...]] [--seed N] [--force]
       tsx tools/modelgen/cli.ts --default-models ROOT   (creates ROOT/checkpoints/v1-5-pruned-emaonly-fp16 if missing)
variants: ${Object.keys(VARIANT_TWEAKS).join(', ')}`;

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      size: { type: 'string', default: 'tiny' },
      variant: { type: 'string', default: 'fp32' },
      seed: { type: 'string', default: '1' },
      force: { type: 'boolean', default: false },
      'default-models': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values['default-models']) {
    const r = ensureDefaultModels(values['default-models']);
    console.log(r.created ? `created ${r.dir}` : `already present: ${r.dir}`);
    return;
  }
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (!isModelSize(values.size)) throw new Error(`--size must be tiny or medium, got '${values.size}'`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got '${values.seed}'`);
  const r = generateModelFolder(values.out, { size: values.size, variant: values.variant, seed, force: values.force });
  const total = r.files.reduce((a, f) => a + f.bytes, 0);
  for (const f of r.files) console.log(`${(f.bytes / 1024).toFixed(1).padStart(10)} KiB  ${f.path}`);
  console.log(`wrote ${r.dir} (${(total / 1048576).toFixed(1)} MiB, params ${JSON.stringify(r.parameters)}) in ${r.elapsedMs.toFixed(0)} ms`);
}

try {
  main();
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  console.error(msg.startsWith('modelgen:') ? msg : `modelgen: ${msg}`);
  process.exitCode = 1;
}
