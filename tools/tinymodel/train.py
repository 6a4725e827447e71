"""Trains the tiny SD1.x-layout model on the synthetic shapes and writes a ComfyUI-layout checkpoint.

    /work/venv/bin/python tools/tinymodel/train.py --work /tmp/tinymodel-work all

Stages (each resumable from --work): data (render the training set), vae (KL autoencoder),
latents (encode the set, fold the latent normalisation into quant_conv/post_quant_conv so that
latent * 0.18215 has zero mean and unit std per channel), unet (U-Net + CLIP text model jointly,
eps-prediction on SD's scaled-linear schedule, 10 % empty prompts for classifier-free guidance),
decoder (the VAE decoder fine-tuned with
the encoder frozen; it may run at the same time as unet),
export (fp16 .safetensors with the three prefixes). Deterministic: fixed seeds, one thread
(torch.set_num_threads(1), which is also the fastest on a loaded 2-core machine).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402
import models  # noqa: E402
from safetensors_io import save_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SCALE = 0.18215  # ComfyUI's SD1.x latent scaling factor (latent_formats.SD15)

DEFAULTS = dict(
    data_seed=20261205, count=12000,
    vae_steps=500, vae_batch=24, vae_crop=32, vae_lr=1e-3, kl_weight=1e-6,
    dec_steps=1200, dec_batch=8, dec_lr=3e-4, latent_count=3000,
    unet_steps=800, unet_batch=64, unet_lr=5e-4, p_empty=0.10, p_negative=0.03, ema=0.995,
    seed=7, save_every=50,
)


def log_writer(name, fields):
    os.makedirs(os.path.join(HERE, "logs"), exist_ok=True)
    f = open(os.path.join(HERE, "logs", name), "w", newline="")
    w = csv.writer(f)
    w.writerow(fields)
    return f, w


def stage_data(a):
    path = os.path.join(a.work, "data.npz")
    if os.path.exists(path):
        return
    t = time.time()
    imgs, caps = dataset.make_dataset(a.count, a.data_seed)
    np.savez(path, images=imgs, captions=np.array(caps))
    print(f"data: {a.count} images in {time.time() - t:.0f}s", flush=True)


def load_data(a):
    d = np.load(os.path.join(a.work, "data.npz"))
    return d["images"], [str(c) for c in d["captions"]]


def to_tensor(imgs):
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def stage_vae(a):
    path = os.path.join(a.work, "vae.pt")
    if os.path.exists(path):
        return
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    imgs, _ = load_data(a)
    vae = models.AutoencoderKL()
    opt = torch.optim.AdamW(vae.parameters(), lr=a.vae_lr, weight_decay=0.0)
    f, w = log_writer("vae_loss.csv", ["step", "recon_l1", "recon_mse", "kl", "seconds"])
    t0 = time.time()
    for step in range(a.vae_steps):
        lr = a.vae_lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / a.vae_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(imgs), a.vae_batch)
        c = a.vae_crop
        # Random crops aligned to the latent grid (8 px): the networks are convolutional, and
        # crops cost a quarter of full images; the last 20 % of steps see full images.
        if step < a.vae_steps * 0.8:
            oy, ox = rng.integers(0, (64 - c) // 8 + 1, 2) * 8
            x = to_tensor(imgs[idx][:, oy:oy + c, ox:ox + c])
        else:
            x = to_tensor(imgs[idx[: a.vae_batch // 3]])
        mean, logvar = vae.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        rec = vae.decode(z)
        l1 = (rec - x).abs().mean()
        mse = (rec - x).pow(2).mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()
        loss = l1 + mse + a.kl_weight * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.writerow([step, f"{l1.item():.5f}", f"{mse.item():.5f}", f"{kl.item():.2f}", f"{time.time() - t0:.1f}"])
        if step % 25 == 0:
            f.flush()
            print(f"vae {step} l1 {l1.item():.4f} mse {mse.item():.4f} kl {kl.item():.1f} {time.time() - t0:.0f}s", flush=True)
    f.close()
    torch.save(vae.state_dict(), path)


@torch.no_grad()
def stage_latents(a):
    path = os.path.join(a.work, "latents.pt")
    imgs, _ = load_data(a)
    n = min(a.latent_count, len(imgs))
    have = torch.load(path) if os.path.exists(path) else None
    if have is not None and len(have) >= n:
        return
    vae = models.AutoencoderKL()
    folded = os.path.join(a.work, "vae_folded.pt")
    if os.path.exists(folded):
        # An earlier run folded the normalisation already: encode only the images it did not.
        vae.load_state_dict(torch.load(folded))
    else:
        vae.load_state_dict(torch.load(os.path.join(a.work, "vae.pt")))
        fold_latent_normalisation(vae, to_tensor(imgs[:400]))
        torch.save(vae.state_dict(), folded)
        have = None
    vae.eval()
    start = 0 if have is None else len(have)
    t0 = time.time()
    z2 = torch.cat([vae.encode(to_tensor(imgs[i:min(n, i + 100)]))[0] for i in range(start, n, 100)]) * SCALE
    print(f"latents: images {start}..{n} encoded in {time.time() - t0:.0f}s", flush=True)
    allz = z2 if have is None else torch.cat([have, z2])
    print(f"latents: ·{SCALE} mean {allz.mean(dim=(0, 2, 3)).tolist()} std {allz.std(dim=(0, 2, 3)).tolist()}", flush=True)
    rec = vae.decode(allz[:200] / SCALE)
    print(f"latents: reconstruction L1 on 200 training images {(rec - to_tensor(imgs[:200])).abs().mean().item():.4f} (range −1..1)", flush=True)
    torch.save(allz, path)


@torch.no_grad()
def fold_latent_normalisation(vae, x):
    """Fold z' = (z − mu) · k with k = 1 / (sd · SCALE) into quant_conv (mean rows; the log-variance
    rows gain 2 ln k) and its inverse into post_quant_conv, so the checkpoint's latents are what
    ComfyUI expects of an SD1 VAE: latent · 0.18215 ≈ unit variance. Statistics from `x`."""
    z = vae.encode(x)[0]
    mu = z.mean(dim=(0, 2, 3))
    sd = z.std(dim=(0, 2, 3))
    k = 1.0 / (sd * SCALE)
    qc, pq = vae.quant_conv, vae.post_quant_conv
    zc = vae.z
    qc.weight[:zc] *= k[:, None, None, None]
    qc.bias[:zc] = (qc.bias[:zc] - mu) * k
    qc.bias[zc:] += 2 * torch.log(k)
    pq.bias += (pq.weight[:, :, 0, 0] @ mu)
    pq.weight /= k[None, :, None, None]


def stage_decoder(a):
    """Decoder fine-tuning with the encoder frozen: the latent space (and so the U-Net's data) stays
    the same, so this runs alongside stage unet; it sharpens edges and makes colours exact."""
    path = os.path.join(a.work, a.dec_out)
    if os.path.exists(path):
        return
    torch.manual_seed(a.seed + 2 + (10 if a.dec_resume else 0))
    rng = np.random.default_rng(a.seed + 2 + (10 if a.dec_resume else 0))
    imgs, _ = load_data(a)
    vae = models.AutoencoderKL()
    start = a.dec_resume or "vae_folded.pt"
    vae.load_state_dict(torch.load(os.path.join(a.work, start)))
    print(f"decoder: from {start}", flush=True)
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=a.dec_lr, weight_decay=0.0)
    f, w = log_writer(a.dec_out.replace(".pt", "_loss.csv"), ["step", "recon_l1", "recon_mse", "seconds"])
    t0 = time.time()
    for step in range(a.dec_steps):
        lr = a.dec_lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / a.dec_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x = to_tensor(imgs[rng.integers(0, len(imgs), a.dec_batch)])
        with torch.no_grad():
            mean, logvar = vae.encode(x)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        rec = vae.decode(z)
        l1 = (rec - x).abs().mean()
        mse = (rec - x).pow(2).mean()
        opt.zero_grad()
        (l1 + mse).backward()
        opt.step()
        w.writerow([step, f"{l1.item():.5f}", f"{mse.item():.5f}", f"{time.time() - t0:.1f}"])
        if step % 25 == 0:
            f.flush()
            print(f"decoder {step} l1 {l1.item():.4f} mse {mse.item():.4f} {time.time() - t0:.0f}s", flush=True)
        if step % 100 == 99:
            torch.save(vae.state_dict(), path + ".partial")
    f.close()
    torch.save(vae.state_dict(), path)


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def caption_ids(caps, rng, a, neg_ids):
    out = []
    for c in caps:
        u = rng.random()
        if u < a.p_empty:
            out.append(dataset.token_ids(""))
        elif u < a.p_empty + a.p_negative:
            ids = [dataset.BOS] + neg_ids[rng.integers(len(neg_ids))] + [dataset.EOS]
            out.append(ids + [dataset.EOS] * (dataset.CONTEXT - len(ids)))
        else:
            out.append(dataset.token_ids(c))
    return torch.tensor(out, dtype=torch.long)


def stage_unet(a, resume=None, out="unet.pt", log="unet_loss.csv", seed_offset=1):
    path = os.path.join(a.work, out)
    if os.path.exists(path):
        return
    torch.manual_seed(a.seed + seed_offset)
    rng = np.random.default_rng(a.seed + seed_offset)
    _, caps = load_data(a)
    lat = torch.load(os.path.join(a.work, "latents.pt"))
    caps = caps[: len(lat)]
    neg_ids = list(json.load(open(os.path.join(HERE, "tokens.json")))["prompts"].values())
    unet, clip = models.UNetModel(), models.ClipTextModel()
    if resume:
        s = torch.load(os.path.join(a.work, resume))
        unet.load_state_dict(s["unet"])
        clip.load_state_dict(s["clip"])
    params = list(unet.parameters()) + list(clip.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=a.unet_lr, weight_decay=0.0)
    ac = alphas_cumprod()
    f, w = log_writer(log, ["step", "loss", "lr", "seconds"])
    t0 = time.time()
    for step in range(a.unet_steps):
        lr = a.unet_lr * min(1.0, (step + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.unet_steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(caps), a.unet_batch)
        x0 = lat[idx]
        ids = caption_ids([caps[i] for i in idx], rng, a, neg_ids)
        t = torch.from_numpy(rng.integers(0, 1000, a.unet_batch))
        eps = torch.randn_like(x0)
        abar = ac[t][:, None, None, None]
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        pred = unet(xt, t.float(), clip(ids))
        loss = F.mse_loss(pred, eps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        w.writerow([step, f"{loss.item():.5f}", f"{lr:.6f}", f"{time.time() - t0:.1f}"])
        if step % 25 == 0:
            f.flush()
            print(f"unet {step} loss {loss.item():.4f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
        if step % a.save_every == a.save_every - 1:
            torch.save({"unet": unet.state_dict(), "clip": clip.state_dict(), "ema": ema, "step": step}, os.path.join(a.work, out.replace(".pt", "_partial.pt")))
    f.close()
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)
    torch.save({"unet": unet.state_dict(), "clip": clip.state_dict()}, path)


def stage_unet2(a):
    """A second U-Net phase from the first one's (EMA) weights, fresh optimizer and schedule."""
    stage_unet(a, resume="unet.pt", out="unet2.pt", log="unet2_loss.csv", seed_offset=3)


def stage_unet3(a):
    """A third, longer phase from unet2.pt over all encoded latents (12,000 after `latents
    --latent-count 12000`): the first two phases saw 3,000 images and over-fitted the pairs
    (held-out accuracy 37.5 %)."""
    stage_unet(a, resume="unet2.pt", out="unet3.pt", log="unet3_loss.csv", seed_offset=5)


def stage_export(a):
    unet, clip, vae = models.UNetModel(), models.ClipTextModel(), models.AutoencoderKL()
    if a.from_partial:
        # The EMA weights of the last periodic save (training stopped early for time).
        s = torch.load(os.path.join(a.work, a.unet_file.replace(".pt", "_partial.pt")))
        print(f"export: from the partial save after step {s['step'] + 1}", flush=True)
        with torch.no_grad():
            for p, e in zip(list(unet.parameters()) + list(clip.parameters()), s["ema"]):
                p.copy_(e)
    else:
        s = torch.load(os.path.join(a.work, a.unet_file))
        unet.load_state_dict(s["unet"])
        clip.load_state_dict(s["clip"])
    dec = os.path.join(a.work, a.vae_file or "vae_decoder.pt")
    if not a.vae_file and not os.path.exists(dec):
        dec += ".partial"  # the decoder fine-tuning stopped early for time
    print(f"export: VAE from {dec}", flush=True)
    vae.load_state_dict(torch.load(dec))
    sd = models.checkpoint_state_dict(unet, clip, vae)
    out = os.path.join(REPO, a.out)
    meta = {"format": "pt", "marble.model": "marble-shapes-tiny", "marble.data_seed": str(a.data_seed), "marble.train_seed": str(a.seed)}
    save_safetensors(out, {k: v.half() for k, v in sd.items()}, meta)
    print(f"export: {out} ({os.path.getsize(out) / 1e6:.1f} MB)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stages", nargs="+", choices=["data", "vae", "latents", "unet", "unet2", "unet3", "decoder", "export", "all"])
    ap.add_argument("--work", default="/tmp/tinymodel-work")
    ap.add_argument("--out", default="resources/models/marble-shapes-tiny.safetensors")
    ap.add_argument("--from-partial", action="store_true", help="export the EMA of the last periodic U-Net save")
    ap.add_argument("--dec-resume", default="", help="continue decoder fine-tuning from this file in --work (e.g. vae_decoder.pt.partial)")
    ap.add_argument("--dec-out", default="vae_decoder.pt")
    ap.add_argument("--vae-file", default="", help="which VAE file of --work to export (default: vae_decoder.pt, else its .partial)")
    ap.add_argument("--unet-file", default="unet2.pt", help="which U-Net phase to export (unet.pt, unet2.pt)")
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.work, exist_ok=True)
    stages = ["data", "vae", "latents", "unet", "decoder", "unet2", "export"] if "all" in a.stages else a.stages
    for s in stages:
        globals()["stage_" + s](a)


if __name__ == "__main__":
    main()
