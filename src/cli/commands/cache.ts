// `marble cache info|clear [--cache DIR]`: the conversion cache's entries and size, or deletes
// them (conversions running in another process are left alone). The default folder is the one
// `marble run` uses: $MARBLE_CACHE, else the platform's user cache folder (~/.cache/marble/onnx).
import { formatBytes } from '../../inference/checkpoint/cache/formatBytes';
import { ConversionCache, defaultCacheRoot } from '../../inference/checkpoint/conversionCache';
import { parseArgs } from '../args';
import { CliError, processIO, type CliIO } from '../io';

const USAGE = `usage: marble cache info|clear [--cache DIR] [--json]

  info    list converted models in the conversion cache with their sizes
  clear   delete them (and leftovers of interrupted conversions), printing the space freed
  --cache DIR   the cache folder (default $MARBLE_CACHE or ${defaultCacheRoot()})`;

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const args = parseArgs(argv, { values: ['cache'], switches: ['help', 'json'], usage: USAGE });
  if (args.flags.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const [action, ...rest] = args.positionals;
  if (rest.length || (action !== 'info' && action !== 'clear')) throw new CliError(`expected 'info' or 'clear'\n${USAGE}`);
  const cache = new ConversionCache(typeof args.flags.cache === 'string' ? args.flags.cache : defaultCacheRoot());
  if (action === 'info') {
    const info = await cache.info();
    if (args.flags.json) {
      io.out(JSON.stringify(info) + '\n');
      return 0;
    }
    io.out(`${info.root}: ${info.entries.length} entr${info.entries.length === 1 ? 'y' : 'ies'}, ${formatBytes(info.totalBytes)}\n`);
    for (const e of info.entries) {
      const what = e.variant ? `${e.variant.role} ${e.variant.precision} ${e.variant.epFamily}` : e.state;
      io.out(`  ${formatBytes(e.bytes).padStart(10)}  ${e.state.padEnd(10)}  ${what.padEnd(20)}  ${e.source ?? e.name}\n`);
    }
    return 0;
  }
  const r = await cache.clear();
  if (args.flags.json) io.out(JSON.stringify({ root: cache.root, ...r }) + '\n');
  else {
    io.out(`freed ${formatBytes(r.freedBytes)} (${r.removed} entr${r.removed === 1 ? 'y' : 'ies'}) in ${cache.root}\n`);
    if (r.skipped.length) io.err(`left ${r.skipped.length} conversion(s) in progress in another process: ${r.skipped.join(', ')}\n`);
  }
  return 0;
}
