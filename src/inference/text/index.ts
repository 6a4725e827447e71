// Public surface of the text side: CLIP tokenizer, ComfyUI prompt weights, chunking, weighting math.
export { ClipTokenizer, CLIP_BOS_TOKEN, CLIP_EOS_TOKEN, type ClipTokenizerOptions } from './clipTokenizer';
export { normalizeClipText, unescapeHtml, type ClipNormalization } from './clipTextNormalize';
export { findShippedTokenizerDir, loadClipTokenizer, resolveTokenizerDir } from './loadClipTokenizer';
export { parsePromptWeights, parsePythonFloat, type WeightedSegment } from './promptWeights';
export {
  EMBEDDING_TOKEN_ID,
  tokenizeWithWeights,
  type EmbeddingLookup,
  type TokenizedPrompt,
  type TokenizeWithWeightsOptions,
  type WeightedToken,
} from './tokenizeWithWeights';
export {
  applyTokenWeights,
  emptyPromptIds,
  encodeTokenWeights,
  hasNonUnitWeights,
  type EncodedPrompt,
  type EncodeIds,
  type EncoderOutput,
  type SpecialTokenIds,
} from './weighting';
