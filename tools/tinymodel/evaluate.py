"""Held-out attribute accuracy in PyTorch (the same pixel check as semantic.ts), to judge a training
run before exporting:  python evaluate.py --work DIR [--unet-file unet2.pt] [--partial]"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402
import models  # noqa: E402
from preview import sample, to_u8, grid, write_png  # noqa: E402

SPEC = dataset.SPEC


def nearest(rgb):
    best, bd = "", 1e18
    for name, c in SPEC["colours"].items():
        d = sum((float(rgb[i]) - c[i]) ** 2 for i in range(3))
        if d < bd:
            best, bd = name, d
    return best


def dominant(img, pixels):
    counts = {}
    for x, y in pixels:
        n = nearest(img[y, x])
        counts[n] = counts.get(n, 0) + 1
    return max(counts.items(), key=lambda kv: kv[1])[0]


def check(img, s):
    sh = s["shapes"][0]
    cx, cy = SPEC["positions"][sh["position"]]["centre"]
    r = SPEC["sizes"][sh["size"]]
    half = 2 if sh["size"] == "small" else 3
    inside = [(x, y) for y in range(cy - half, cy + half + 1) for x in range(cx - half, cx + half + 1)]
    away = [(x, y) for y in range(64) for x in range(64) if max(abs(x + 0.5 - cx), abs(y + 0.5 - cy)) > r + 6]
    return dominant(img, inside) == sh["colour"], dominant(img, away) == s["background"][0]


def load(work, unet_file, partial, vae_file=""):
    unet, clip, vae = models.UNetModel(), models.ClipTextModel(), models.AutoencoderKL()
    dec = vae_file or next(p for p in ("vae_decoder.pt", "vae_decoder.pt.partial", "vae_folded.pt") if os.path.exists(os.path.join(work, p)))
    vae.load_state_dict(torch.load(os.path.join(work, dec)))
    if partial:
        s = torch.load(os.path.join(work, unet_file.replace(".pt", "_partial.pt")))
        with torch.no_grad():
            for p, e in zip(list(unet.parameters()) + list(clip.parameters()), s["ema"]):
                p.copy_(e)
    else:
        s = torch.load(os.path.join(work, unet_file))
        unet.load_state_dict(s["unet"])
        clip.load_state_dict(s["clip"])
    return unet.eval(), clip.eval(), vae.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/tinymodel-work")
    ap.add_argument("--unet-file", default="unet2.pt")
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--vae-file", default="", help="VAE weights in --work (default: the fine-tuned decoder)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cfg", type=float, default=8.0)
    ap.add_argument("--png")
    a = ap.parse_args()
    torch.set_num_threads(1)
    unet, clip, vae = load(a.work, a.unet_file, a.partial, a.vae_file)
    cases = dataset.held_out_samples()
    caps = [dataset.caption_of(c) for c in cases]
    imgs = to_u8(sample(unet, clip, vae, caps, steps=a.steps, cfg=a.cfg, seed=a.seed, negative=""))
    ok_c = ok_b = 0
    for img, c in zip(imgs, cases):
        c1, b1 = check(img, c)
        ok_c += c1
        ok_b += b1
    n = len(cases)
    print(f"shape colour {ok_c}/{n}  background {ok_b}/{n}  overall {(ok_c + ok_b) / (2 * n):.3f}")
    if a.png:
        write_png(a.png, grid(list(imgs)))


if __name__ == "__main__":
    main()
