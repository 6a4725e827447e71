// What the model nodes share inside one inference process: the ONNX session cache (sessions are
// expensive, so loaders hand out handles and the cache owns the sessions) and loaded tokenizers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConversionCache, defaultCacheRoot, type EpFamily, type Precision } from '../checkpoint/conversionCache';
import { EP_SETTINGS, type EpSetting } from '../ort/executionProviders';
import { SessionCache } from '../ort/sessionCache';
import { ClipTokenizer, findShippedTokenizerDir, loadClipTokenizer } from '../text';
import type { GetConfig } from './runtimeConfig';

export interface EpReport {
  model: string;
  provider: string;
}

export class ModelServices {
  readonly cache: SessionCache;
  private readonly tokenizers = new Map<string, Promise<ClipTokenizer>>();

  constructor(
    readonly getConfig: GetConfig,
    /** Told which EP created each model's session, so every run can report it. */
    readonly onEp: (report: EpReport) => void = () => {},
    cache?: SessionCache,
  ) {
    const cfg = getConfig();
    this.cache = cache ?? new SessionCache({ ep: parseEpSetting(cfg.ep), budgetBytes: cfg.memoryBudgetMB > 0 ? cfg.memoryBudgetMB * 2 ** 20 : undefined });
  }

  private conversions: ConversionCache | undefined;

  /** Where converted `.safetensors` models live: the configured folder, else the user cache. */
  conversionCache(): ConversionCache {
    const root = path.resolve(this.getConfig().conversionCacheDir || defaultCacheRoot());
    if (this.conversions?.root !== root) this.conversions = new ConversionCache(root);
    return this.conversions;
  }

  /**
   * The graphs a conversion writes for the configured EP: fp32 for the CPU (and for 'auto', which
   * may end on the CPU), fp16 weights for an explicitly chosen GPU provider.
   */
  conversionVariant(): { precision: Precision; epFamily: EpFamily } {
    const ep = this.getConfig().ep;
    return ep === 'cpu' || ep === 'auto' ? { precision: 'fp32', epFamily: 'cpu' } : { precision: 'fp16', epFamily: 'gpu' };
  }

  /** A new EP setting applies to sessions created from now on. */
  reconfigure(): void {
    this.cache.setEpSetting(parseEpSetting(this.getConfig().ep));
  }

  /** A model folder's own tokenizer when it has one, else the CLIP-L files shipped with Marble. */
  tokenizerFor(tokenizerDir: string | undefined): Promise<ClipTokenizer> {
    const dir = tokenizerDir && fs.existsSync(path.join(tokenizerDir, 'vocab.json')) ? tokenizerDir : findShippedTokenizerDir();
    let t = this.tokenizers.get(dir);
    if (!t) {
      t = loadClipTokenizer(dir);
      this.tokenizers.set(dir, t);
      t.catch(() => this.tokenizers.delete(dir));
    }
    return t;
  }

  async free(): Promise<void> {
    await this.cache.freeAll();
  }
}

export function parseEpSetting(value: string): EpSetting {
  if ((EP_SETTINGS as readonly string[]).includes(value)) return value as EpSetting;
  throw new Error(`execution provider '${value}' is not one of ${EP_SETTINGS.join(', ')}`);
}
