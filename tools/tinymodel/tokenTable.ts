// Writes tools/tinymodel/tokens.json: the CLIP BPE ids of every word of the caption grammar in
// spec.json, from Marble's own tokenizer (resources/clip-tokenizer), so the PyTorch training sees
// exactly the ids the engine feeds. CLIP's pre-tokenizer splits words and punctuation before BPE,
// so a caption's ids are the concatenation of its words' ids; this script checks that on every
// held-out caption and a sample of generated ones (a file given as the argument, one per line) and fails if not.
//   python3 tools/tinymodel/dataset.py --count 300 > /tmp/captions.txt
//   npx tsx tools/tinymodel/tokenTable.ts /tmp/captions.txt
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadClipTokenizer } from '../../src/inference/text/loadClipTokenizer';

const here = __dirname;
const repo = path.resolve(here, '../..');
const WORD = /[a-z]+|,/g;

async function main(): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(path.join(here, 'spec.json'), 'utf8'));
  const tok = await loadClipTokenizer(path.join(repo, 'resources/clip-tokenizer'));
  const text = [
    ...Object.keys(spec.colours),
    ...spec.shapes,
    ...Object.keys(spec.sizes),
    ...Object.values(spec.positions as Record<string, { phrase: string }>).map((p) => p.phrase),
    ...Object.entries(spec.grammar as Record<string, string>).filter(([k]) => k !== 'twoToneMeaning').map(([, v]) => v.replace(/\{[a-z]+\}/gi, ' ')),
  ].join(' ');
  const words = [...new Set(text.toLowerCase().match(WORD) ?? [])].sort();
  const table: Record<string, number[]> = {};
  for (const w of words) table[w] = tok.encode(w);

  const prompts: Record<string, number[]> = {};
  for (const p of spec.negativePrompts.prompts as string[]) prompts[p] = tok.encode(p);
  const listed = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : '';
  const captions = listed.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const c of captions) {
    const joined = (c.toLowerCase().match(WORD) ?? []).flatMap((w) => {
      if (!table[w]) throw new Error(`word '${w}' of "${c}" is not in the grammar`);
      return table[w];
    });
    const full = tok.encode(c);
    if (JSON.stringify(joined) !== JSON.stringify(full)) throw new Error(`"${c}": word ids ${joined} ≠ tokenizer ${full}`);
  }
  fs.writeFileSync(path.join(here, 'tokens.json'), `${JSON.stringify({ comment: 'written by tokenTable.ts from resources/clip-tokenizer', bos: tok.bosId, eos: tok.eosId, words: table, prompts }, null, 1)}\n`);
  console.log(`tokens.json: ${words.length} words; ${captions.length} captions checked against the full tokenizer`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
