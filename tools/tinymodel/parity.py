"""Writes a random-weight checkpoint of models.py's networks plus reference inputs/outputs, for
checkParity.ts to compare with Marble's ONNX builders (the PyTorch definitions must compute what
Marble computes, or training would optimise a different network).

    /work/venv/bin/python tools/tinymodel/parity.py /tmp/tiny-parity
    npx tsx tools/tinymodel/checkParity.ts /tmp/tiny-parity
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402
import models  # noqa: E402
from safetensors_io import save_safetensors  # noqa: E402


@torch.no_grad()
def main(out):
    torch.manual_seed(3)
    torch.set_num_threads(1)
    unet, clip, vae = models.UNetModel(), models.ClipTextModel(), models.AutoencoderKL()
    for m in (unet, clip, vae):
        for n, p in m.named_parameters():
            # Zero-initialised layers (out convs, proj_out) and norms get random values so every path counts.
            p.add_(torch.randn_like(p) * (0.05 if p.dim() > 1 else 0.1))
    sd = models.checkpoint_state_dict(unet, clip, vae)
    os.makedirs(out, exist_ok=True)
    save_safetensors(os.path.join(out, "ckpt.safetensors"), sd)
    ids = torch.tensor([dataset.token_ids("a small red circle on the left, blue background"), dataset.token_ids("")])
    ctx = clip(ids)
    x = torch.randn(2, 4, 8, 8)
    t = torch.tensor([999.0, 13.5])
    eps = unet(x, t, ctx)
    img = torch.rand(1, 3, 64, 64) * 2 - 1
    mean, _ = vae.encode(img)
    dec = vae.decode(x[:1])
    save_safetensors(os.path.join(out, "io.safetensors"), {
        "ids": ids.int(), "ctx": ctx, "x": x, "t": t, "eps": eps, "img": img, "mean": mean, "dec": dec,
    })


if __name__ == "__main__":
    main(sys.argv[1])
