// `marble tokenize "<prompt>"`: shows how ComfyUI would chunk and weight a prompt, without a model.

import { loadClipTokenizer, resolveTokenizerDir } from '../../inference/text/loadClipTokenizer';
import { tokenizeWithWeights } from '../../inference/text/tokenizeWithWeights';
import type { ClipNormalization } from '../../inference/text/clipTextNormalize';
import { embeddingLookup } from '../../inference/text/loadEmbedding';
import { folderPaths } from '../../inference/models/modelsRoot';

const USAGE = `Usage: marble tokenize [options] "<prompt>"   (use - to read the prompt from stdin)

Prints {"chunks": [[{"id", "token", "weight"}, ...], ...], "token_count": n} as ComfyUI's
CLIPTextEncode would tokenize the prompt: (text:1.2) weights, 77-token chunks, padding.

Options:
  --model <dir>          use <dir>/tokenizer/ when it has vocab.json + merges.txt
  --tokenizer <dir>      use this folder's vocab.json + merges.txt
  --pad-id <n>           padding id (default: 49407 = EOS, SD1/CLIP-L; use 0 for SD2/SDXL clip_g)
  --normalization <m>    comfyui (default, stock ComfyUI) or ftfy (ftfy-like clean-up)
  --no-weights           treat parentheses as plain text
  --models <dir>         resolve embedding:name in <dir>/embeddings (and extra_model_paths.yaml);
                         an embedding's tokens print as {"id": -1, "token": "embedding:name[i]"}
  --width <n>            the text encoder's width for embeddings (default 768, CLIP-L;
                         1280 reads an SDXL file's clip_g, 1024 SD2's clip_h)
  -h, --help             show this help`;

interface TokenizeArgs {
  prompt: string;
  model?: string;
  tokenizerDir?: string;
  padId?: number;
  normalization: ClipNormalization;
  weights: boolean;
  models?: string;
  width: number;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): TokenizeArgs | 'help' {
  const positional: string[] = [];
  const out: Partial<TokenizeArgs> = { normalization: 'comfyui', weights: true, width: 768 };
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
    else if (a === '--models') out.models = value(i++, a);
    else if (a === '--width') {
      const raw = value(i++, a);
      if (!/^[1-9]\d*$/.test(raw)) throw new UsageError(`--width expects a positive integer (768, 1024, 1280), got "${raw}"`);
      out.width = Number(raw);
    }
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
    const embeddings = args.models ? embeddingLookup(folderPaths([args.models], 'embeddings'), { width: args.width }) : undefined;
    const result = tokenizeWithWeights(tokenizer, prompt, { padId: args.padId, weights: args.weights, embeddings });
    const output: Record<string, unknown> = {
      chunks: result.chunks.map((chunk) => {
        const seen = new Map<string, number>();
        return chunk.map(({ id, weight, embedding }) => {
          if (embedding === undefined) return { id, token: tokenizer.idToToken(id) ?? null, weight };
          const k = seen.get(embedding) ?? 0;
          seen.set(embedding, k + 1);
          return { id, token: `embedding:${embedding}[${k}]`, weight };
        });
      }),
      token_count: result.tokenCount,
    };
    if (result.usedEmbeddings.length > 0) output.embeddings = result.usedEmbeddings;
    if (result.missingEmbeddings.length > 0) output.missing_embeddings = result.missingEmbeddings;
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`marble tokenize: ${(e as Error).message}\n`);
    return 1;
  }
}
