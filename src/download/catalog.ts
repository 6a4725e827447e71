// The curated models `marble download <name>` and **Marble: Download Model…** offer. Each fact is
// cited from the page it was read on (Hugging Face "Files" listings and LFS pointer details, read
// 2026-12-05). `sha256`/`bytes` are filled only where the publisher's own page (or a byte-identical
// "Duplicate from <publisher>" copy of its LFS pointer) states them; otherwise they are left out
// and the download is verified by size (from the server) and file header only.
// `sizeLabel` is the rounded size the publisher's file listing shows, for the picker.

export interface CatalogEntry {
  /** Short name for the CLI (`marble download sdxl-base`). */
  id: string;
  label: string;
  /** ComfyUI models sub-folder the file belongs in. */
  folder: 'checkpoints' | 'vae';
  file: string;
  url: string;
  sizeLabel: string;
  /** Exact size in bytes, where stated. */
  bytes?: number;
  /** Lower-case hex SHA-256, where stated. */
  sha256?: string;
  /** Where the facts above were read. */
  source: string;
  note?: string;
}

const hf = (repo: string, file: string) => `https://huggingface.co/${repo}/resolve/main/${file}`;

export const MODEL_CATALOG: readonly CatalogEntry[] = [
  {
    id: 'sd15',
    label: 'Stable Diffusion 1.5 (fp16, pruned EMA-only)',
    folder: 'checkpoints',
    file: 'v1-5-pruned-emaonly-fp16.safetensors',
    url: hf('Comfy-Org/stable-diffusion-v1-5-archive', 'v1-5-pruned-emaonly-fp16.safetensors'),
    sizeLabel: '2.13 GB',
    sha256: 'e9476a13728cd75d8279f6ec8bad753a66a1957ca375a1464dc63b37db6e3916',
    source: 'https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/blob/88ab1c3fe1ac966875589a4539aecafcdd3ede59/v1-5-pruned-emaonly-fp16.safetensors (LFS SHA256; size shown rounded only)',
    note: 'The checkpoint name ComfyUI\'s default workflow asks for.',
  },
  {
    id: 'sd15-inpainting',
    label: 'Stable Diffusion 1.5 Inpainting',
    folder: 'checkpoints',
    file: 'sd-v1-5-inpainting.ckpt',
    url: hf('stable-diffusion-v1-5/stable-diffusion-inpainting', 'sd-v1-5-inpainting.ckpt'),
    sizeLabel: '4.27 GB',
    source: 'https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-inpainting/tree/8a4288a76071f7280aedbdb3253bdb9e9d5d84bb (file listing; no SHA-256 on a publisher page was found, so none is checked)',
    note: 'A pickle (.ckpt) file: only the original publisher\'s copy exists in this format.',
  },
  {
    id: 'sd21',
    label: 'Stable Diffusion 2.1 (768, v-prediction)',
    folder: 'checkpoints',
    file: 'v2-1_768-ema-pruned.safetensors',
    url: hf('stabilityai/stable-diffusion-2-1', 'v2-1_768-ema-pruned.safetensors'),
    sizeLabel: '5.21 GB',
    source: 'https://huggingface.co/stabilityai/stable-diffusion-2-1/tree/a3f6ef1f3d56cf0948ce83c797982f53b411422f (file listing; the publisher\'s LFS details were not found, so no SHA-256 is checked)',
  },
  {
    id: 'sdxl-base',
    label: 'Stable Diffusion XL 1.0 Base',
    folder: 'checkpoints',
    file: 'sd_xl_base_1.0.safetensors',
    url: hf('stabilityai/stable-diffusion-xl-base-1.0', 'sd_xl_base_1.0.safetensors'),
    sizeLabel: '6.94 GB',
    bytes: 6938078334,
    sha256: '31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b',
    source: 'LFS pointer of https://huggingface.co/cgburgos/sdxl-1-0-base/blob/main/sd_xl_base_1.0.safetensors ("Duplicate from stabilityai/stable-diffusion-xl-base-1.0"); the same oid with size 6938078334 in https://huggingface.co/ashleykleynhans/a1111-models/commit/8f0c7196f8010e143fda0cea5c6ce37c624c21df',
  },
  {
    id: 'sdxl-refiner',
    label: 'Stable Diffusion XL 1.0 Refiner',
    folder: 'checkpoints',
    file: 'sd_xl_refiner_1.0.safetensors',
    url: hf('stabilityai/stable-diffusion-xl-refiner-1.0', 'sd_xl_refiner_1.0.safetensors'),
    sizeLabel: '6.08 GB',
    source: 'Size as listed by copies of the file (e.g. https://huggingface.co/ashleykleynhans/a1111-models/blob/3e71a6e147aa4496bdec0d197c1e3b7a1dc3e477/Stable-diffusion/sd_xl_refiner_1.0.safetensors); the publisher\'s LFS details were not found, so no SHA-256 is checked',
  },
  {
    id: 'sdxl-turbo',
    label: 'SDXL Turbo (fp16)',
    folder: 'checkpoints',
    file: 'sd_xl_turbo_1.0_fp16.safetensors',
    url: hf('stabilityai/sdxl-turbo', 'sd_xl_turbo_1.0_fp16.safetensors'),
    sizeLabel: '6.94 GB',
    bytes: 6938081905,
    sha256: 'e869ac7d6942cb327d68d5ed83a40447aadf20e0c3358d98b2cc9e270db0da26',
    source: 'https://huggingface.co/stabilityai/sdxl-turbo/blob/main/sd_xl_turbo_1.0_fp16.safetensors (LFS SHA256, commit cf0e5cb "Add modelspec"); size of the same oid in https://huggingface.co/luca115/stable-diffusion/commit/fff76af50e74c03eb43666e3ee3895c2471165db',
  },
  {
    id: 'vae-ft-mse',
    label: 'SD 1.x VAE ft-MSE 840000 (vae-ft-mse-840000-ema-pruned)',
    folder: 'vae',
    file: 'vae-ft-mse-840000-ema-pruned.safetensors',
    url: hf('stabilityai/sd-vae-ft-mse-original', 'vae-ft-mse-840000-ema-pruned.safetensors'),
    sizeLabel: '335 MB',
    source: 'https://huggingface.co/stabilityai/sd-vae-ft-mse-original/tree/c1eba256520a04c72a0dedbf5a326209c576dbef (file listing; the publisher\'s LFS details were not found, so no SHA-256 is checked)',
  },
  {
    id: 'sdxl-vae',
    label: 'SDXL VAE',
    folder: 'vae',
    file: 'sdxl_vae.safetensors',
    url: hf('stabilityai/sdxl-vae', 'sdxl_vae.safetensors'),
    sizeLabel: '335 MB',
    source: 'https://huggingface.co/stabilityai/sdxl-vae/tree/f85c10757eb0bda0222090261de54c5fe17a7f4f (file listing); the weights were replaced on 2023-07-26 (commit 4eec565) and copies show two different hashes, so none is checked',
  },
];

export function findCatalogEntry(id: string): CatalogEntry | undefined {
  const want = id.trim().toLowerCase();
  return MODEL_CATALOG.find((e) => e.id === want || e.file.toLowerCase() === want);
}
