"""Preview grids (PNG) for the tiny model: VAE reconstructions of training images, or PyTorch
samples for captions (Euler, ComfyUI's 'normal' discrete schedule, CFG), to judge training before
exporting.    python preview.py recon --work DIR --out x.png | python preview.py sample ..."""
import argparse
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402
import models  # noqa: E402
from train import alphas_cumprod  # noqa: E402


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def grid(imgs, cols=8):
    n = len(imgs)
    rows = (n + cols - 1) // cols
    g = np.zeros((rows * 64, cols * 64, 3), dtype=np.uint8)
    for i, im in enumerate(imgs):
        g[(i // cols) * 64:(i // cols + 1) * 64, (i % cols) * 64:(i % cols + 1) * 64] = im
    return g


def to_u8(x):
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def sample(unet, clip, vae, captions, steps=20, cfg=8.0, seed=42, negative=""):
    ac = alphas_cumprod()
    sigmas_all = ((1 - ac) / ac).sqrt()
    # ComfyUI 'normal': timesteps linearly from 999 to 0, sigma by log-sigma interpolation, then 0.
    ts = torch.linspace(999, 0, steps)
    log_s = sigmas_all.log()
    lo = ts.floor().long()
    hi = ts.ceil().long()
    w = ts - lo
    sig = ((1 - w) * log_s[lo] + w * log_s[hi]).exp()
    sig = torch.cat([sig, torch.zeros(1)])
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(captions), 4, 8, 8, generator=g) * sig[0]
    cond = clip(torch.tensor([dataset.token_ids(c) for c in captions]))
    unc = clip(torch.tensor([dataset.token_ids(negative)] * len(captions)))
    for i in range(steps):
        s = sig[i]
        t = ts[i].expand(len(captions))
        xin = x / (s * s + 1).sqrt()
        e_c = unet(xin, t, cond)
        e_u = unet(xin, t, unc)
        eps = e_u + cfg * (e_c - e_u)
        x = x + eps * (sig[i + 1] - s)
    return vae.decode(x / 0.18215)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["recon", "sample"])
    ap.add_argument("--work", default="/tmp/tinymodel-work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--partial", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    vae = models.AutoencoderKL()
    dec = next(p for p in ("vae_decoder.pt", "vae_decoder.pt.partial", "vae_folded.pt", "vae.pt") if os.path.exists(os.path.join(a.work, p)))
    if a.what == "recon":
        vae.load_state_dict(torch.load(os.path.join(a.work, dec)))
        d = np.load(os.path.join(a.work, "data.npz"))
        imgs = d["images"][:16]
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            rec = vae.decode(vae.encode(x)[0])
        out = [im for pair in zip(imgs, to_u8(rec)) for im in pair]
        write_png(a.out, grid(out))
        return
    vae.load_state_dict(torch.load(os.path.join(a.work, dec)))
    unet, clip = models.UNetModel(), models.ClipTextModel()
    if a.partial:
        s = torch.load(os.path.join(a.work, "unet_partial.pt"))
        params = list(unet.parameters()) + list(clip.parameters())
        with torch.no_grad():
            for p, e in zip(params, s["ema"]):
                p.copy_(e)
    else:
        s = torch.load(os.path.join(a.work, "unet.pt"))
        unet.load_state_dict(s["unet"])
        clip.load_state_dict(s["clip"])
    caps = [dataset.caption_of(c) for c in dataset.held_out_samples()[:16]]
    print("\n".join(caps))
    write_png(a.out, grid(to_u8(sample(unet, clip, vae, caps))))


if __name__ == "__main__":
    main()
