// An independent CLIP-L tokenizer for cross-checking ours: Hugging Face's tokenizers.js (a port of
// the Rust `tokenizers` crate) driven by a tokenizer.json-shaped definition with the same pipeline
// as openai/clip-vit-large-patch14's tokenizer.json (the CLIPTokenizerFast definition). Only the
// vocabulary and merges are shared with our implementation; normalization, pre-tokenization, byte
// mapping, BPE and post-processing all come from the library.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SHIPPED_DIR } from './helpers';

const BOS_TOKEN = '<|startoftext|>';
const EOS_TOKEN = '<|endoftext|>';

/** The pieces of CLIP-L's tokenizer.json that decide ids, with our vocab.json / merges.txt as the model. */
export function clipFastTokenizerDefinition(vocab: Record<string, number>, merges: string[]): object {
  const bos = vocab[BOS_TOKEN];
  const eos = vocab[EOS_TOKEN];
  if (bos === undefined || eos === undefined) throw new Error('reference tokenizer: vocab lacks CLIP special tokens');
  const special = (id: number, content: string) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bos, BOS_TOKEN), special(eos, EOS_TOKEN)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          // invert + Removed: keep the regex matches as words and drop everything between them
          // (whitespace), which is what CLIP's re.findall does.
          type: 'Split',
          pattern: {
            Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS_TOKEN, eos],
      cls: [BOS_TOKEN, bos],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS_TOKEN,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

let cached: Tokenizer | undefined;

/** Reference tokenizer over the shipped resources (built once, ~0.2 s). */
export function referenceClipTokenizer(): Tokenizer {
  if (cached) return cached;
  const vocab = JSON.parse(fs.readFileSync(path.join(SHIPPED_DIR, 'vocab.json'), 'utf8')) as Record<string, number>;
  // tokenizer.json lists the merges without merges.txt's "#version" header line.
  const merges = fs
    .readFileSync(path.join(SHIPPED_DIR, 'merges.txt'), 'utf8')
    .replace(/\r\n/g, '\n')
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('#version'));
  cached = new Tokenizer(clipFastTokenizerDefinition(vocab, merges), {
    bos_token: BOS_TOKEN,
    eos_token: EOS_TOKEN,
    unk_token: EOS_TOKEN,
    pad_token: EOS_TOKEN,
    model_max_length: 77,
  });
  return cached;
}

/** [BOS, ...ids, EOS] from the reference, like CLIPTokenizerFast(text).input_ids. */
export function referenceIds(text: string): number[] {
  return referenceClipTokenizer().encode(text).ids;
}
