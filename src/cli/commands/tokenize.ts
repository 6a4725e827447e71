// `marble tokenize "<prompt>"`: shows how ComfyUI would chunk and weight a prompt, without a model.

import { loadClipTokenizer, resolveTokenizerDir } from '../../inference/text/loadClipTokenizer';
import { tokenizeWithWeights } from '../../inference/text/tokenizeWithWeights';
import type { ClipNormalization } from '../../inference/text/clipTextNormalize';

const USAGE = `Usage: marble tokenize [options] "<prompt>"   (use - to read the prompt from stdin)

Prints {"chunks": [[{"id", "token", "weight"}, ...], ...], "token_count": n} as ComfyUI's
CLIPTextEncode would tokenize the prompt: (text:1.2) weights, 77-token chunks, padding.

Options:
  --model <dir>          use <dir>/tokenizer/ when it has vocab.json + merges.txt
  --tokenizer <dir>      use this folder's vocab.json + merges.txt
  --pad-id <n>           padding id (default: 49407 = EOS, SD1/CLIP-L; use 0 for SD2/SDXL clip_g)
  --normalization <m>    comfyui (default, stock ComfyUI) or ftfy (ftfy-like clean-up)
  --no-weights           treat parentheses as plain text
  -h, --help             show this help`;

interface TokenizeArgs {
  prompt: string;
  model?: string;
  tokenizerDir?: string;
  padId?: number;
  normalization: ClipNormalization;
  weights: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): TokenizeArgs | 'help' {
  const positional: string[] = [];
  const out: Partial<TokenizeArgs> = { normalization: 'comfyui', weights: true };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--model') out.model = value(i++, a);
    else if (a === '--tokenizer') out.tokenizerDir = value(i++, a);
    else if (a === '--pad-id') {
      const raw = value(i++, a);
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new UsageError(`--pad-id expects a token id (integer ≥ 0), got "${raw}"`);
      out.padId = n;
    } else if (a === '--normalization') {
      const m = value(i++, a);
      if (m !== 'comfyui' && m !== 'ftfy') throw new UsageError(`--normalization expects "comfyui" or "ftfy", got "${m}"`);
      out.normalization = m;
    } else if (a === '--no-weights') out.weights = false;
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length === 0) throw new UsageError('missing the prompt');
  return { ...(out as TokenizeArgs), prompt: positional.join(' ') };
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  let args: TokenizeArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`marble tokenize: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const prompt = args.prompt === '-' ? await readStdin() : args.prompt;
    const dir = args.tokenizerDir ?? resolveTokenizerDir(args.model);
    const tokenizer = await loadClipTokenizer(dir, { normalization: args.normalization });
    const result = tokenizeWithWeights(tokenizer, prompt, { padId: args.padId, weights: args.weights });
    const output: Record<string, unknown> = {
      chunks: result.chunks.map((chunk) =>
        chunk.map(({ id, weight }) => ({ id, token: tokenizer.idToToken(id) ?? null, weight })),
      ),
      token_count: result.tokenCount,
    };
    if (result.missingEmbeddings.length > 0) output.missing_embeddings = result.missingEmbeddings;
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`marble tokenize: ${(e as Error).message}\n`);
    return 1;
  }
}
