"""The three SD1.x networks at a tiny size, written so that state_dict() keys are exactly those of a
ComfyUI SD1.x single-file checkpoint once prefixed (model.diffusion_model.*,
cond_stage_model.transformer.*, first_stage_model.*). Structure follows ComfyUI's
comfy/ldm/modules/diffusionmodules/openaimodel.py (UNetModel), comfy/ldm/modules/attention.py
(SpatialTransformer), comfy/ldm/modules/diffusionmodules/model.py (Encoder/Decoder) and the HF
CLIPTextModel naming (comfy/clip_model.py); written here, not copied.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def gn(ch, eps=1e-5):
    return nn.GroupNorm(32, ch, eps=eps)


# ---------------------------------------------------------------- CLIP text model (HF names)
class ClipAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, mask):
        b, s, d = x.shape
        h = self.heads
        q, k, v = (p(x).view(b, s, h, d // h).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(o.transpose(1, 2).reshape(b, s, d))


class ClipMlp(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.fc1 = nn.Linear(d, inner)
        self.fc2 = nn.Linear(inner, d)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # quick_gelu, as CLIP-L


class ClipLayer(nn.Module):
    def __init__(self, d, heads, inner):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(d)
        self.self_attn = ClipAttention(d, heads)
        self.layer_norm2 = nn.LayerNorm(d)
        self.mlp = ClipMlp(d, inner)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEmbeddings(nn.Module):
    def __init__(self, vocab, d, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d)
        self.position_embedding = nn.Embedding(positions, d)


class ClipEncoder(nn.Module):
    def __init__(self, d, heads, inner, layers):
        super().__init__()
        self.layers = nn.ModuleList([ClipLayer(d, heads, inner) for _ in range(layers)])


class ClipTextModel(nn.Module):
    """cond_stage_model.transformer: text_model.{embeddings,encoder,final_layer_norm}."""

    def __init__(self, d=64, layers=2, inner=256, vocab=49408, positions=77):
        super().__init__()
        self.text_model = nn.Module()
        self.text_model.embeddings = ClipEmbeddings(vocab, d, positions)
        self.text_model.encoder = ClipEncoder(d, d // 64, inner, layers)
        self.text_model.final_layer_norm = nn.LayerNorm(d)
        for e in (self.text_model.embeddings.token_embedding, self.text_model.embeddings.position_embedding):
            nn.init.normal_(e.weight, std=0.02)

    def forward(self, ids):
        tm = self.text_model
        s = ids.shape[1]
        x = tm.embeddings.token_embedding(ids) + tm.embeddings.position_embedding.weight[:s]
        mask = torch.full((s, s), float("-inf")).triu(1)
        for layer in tm.encoder.layers:
            x = layer(x, mask)
        return tm.final_layer_norm(x)  # SD1 conditioning: last layer, final LayerNorm applied


# ---------------------------------------------------------------- LDM U-Net
def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.in_layers = nn.Sequential(gn(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.out_layers = nn.Sequential(gn(cout), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1))
        nn.init.zeros_(self.out_layers[3].weight)
        nn.init.zeros_(self.out_layers[3].bias)
        self.skip_connection = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class CrossAttention(nn.Module):
    def __init__(self, dim, ctx_dim, heads, dim_head):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(ctx_dim, inner, bias=False)
        self.to_v = nn.Linear(ctx_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.0))

    def forward(self, x, ctx):
        b, n, _ = x.shape
        h = self.heads
        q = self.to_q(x)
        k = self.to_k(ctx)
        v = self.to_v(ctx)
        q, k, v = (t.view(b, t.shape[1], h, -1).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(o.transpose(1, 2).reshape(b, n, -1))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim))

    def forward(self, x):
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, ctx_dim, heads, dim_head):
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, ctx_dim, heads, dim_head)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x, ctx):
        n1 = self.norm1(x)
        x = self.attn1(n1, n1) + x
        x = self.attn2(self.norm2(x), ctx) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """SD1 form: GroupNorm (eps 1e-6), 1×1 conv proj_in/proj_out, 8 heads."""

    def __init__(self, ch, ctx_dim, depth=1, heads=8):
        super().__init__()
        self.norm = gn(ch, 1e-6)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(ch, ctx_dim, heads, ch // heads) for _ in range(depth)])
        self.proj_out = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        for blk in self.transformer_blocks:
            h = blk(h, ctx)
        h = h.transpose(1, 2).reshape(b, c, hh, ww)
        return self.proj_out(h) + x


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Step(nn.ModuleList):
    """One input/middle/output block (TimestepEmbedSequential): indices are the key names."""

    def forward(self, x, emb, ctx, size=None):
        for m in self:
            if isinstance(m, ResBlock):
                x = m(x, emb)
            elif isinstance(m, SpatialTransformer):
                x = m(x, ctx)
            elif isinstance(m, Upsample):
                x = m(x, size)
            else:
                x = m(x)
        return x


class UNetModel(nn.Module):
    def __init__(self, in_ch=4, mc=64, mult=(1, 2), num_res=1, attn_levels=(True, True), ctx_dim=64, heads=8):
        super().__init__()
        emb = mc * 4
        self.mc = mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([Step([nn.Conv2d(in_ch, mc, 3, padding=1)])])
        chans = [mc]
        ch = mc
        for level, m in enumerate(mult):
            for _ in range(num_res):
                layers = [ResBlock(ch, mc * m, emb)]
                ch = mc * m
                if attn_levels[level]:
                    layers.append(SpatialTransformer(ch, ctx_dim, 1, heads))
                self.input_blocks.append(Step(layers))
                chans.append(ch)
            if level != len(mult) - 1:
                self.input_blocks.append(Step([Downsample(ch)]))
                chans.append(ch)
        self.middle_block = Step([ResBlock(ch, ch, emb), SpatialTransformer(ch, ctx_dim, 1, heads), ResBlock(ch, ch, emb)])
        self.output_blocks = nn.ModuleList()
        for level in reversed(range(len(mult))):
            for i in range(num_res + 1):
                layers = [ResBlock(ch + chans.pop(), mc * mult[level], emb)]
                ch = mc * mult[level]
                if attn_levels[level]:
                    layers.append(SpatialTransformer(ch, ctx_dim, 1, heads))
                if level and i == num_res:
                    layers.append(Upsample(ch))
                self.output_blocks.append(Step(layers))
        self.out = nn.Sequential(gn(ch), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))
        nn.init.zeros_(self.out[2].weight)
        nn.init.zeros_(self.out[2].bias)

    def forward(self, x, t, ctx):
        emb = self.time_embed(timestep_embedding(t, self.mc))
        hs = []
        h = x
        for blk in self.input_blocks:
            h = blk(h, emb, ctx)
            hs.append(h)
        h = self.middle_block(h, emb, ctx)
        for blk in self.output_blocks:
            h = torch.cat([h, hs.pop()], dim=1)
            h = blk(h, emb, ctx, size=hs[-1].shape[-2:] if hs else None)
        return self.out(h)


# ---------------------------------------------------------------- KL autoencoder (LDM names)
class VaeResnet(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = gn(cin, 1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = gn(cout, 1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class VaeAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        n = self.norm(x)
        q, k, v = (p(n).flatten(2).transpose(1, 2)[:, None] for p in (self.q, self.k, self.v))
        o = F.scaled_dot_product_attention(q, k, v)[:, 0]
        return x + self.proj_out(o.transpose(1, 2).reshape(b, c, hh, ww))


class VaeDown(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class VaeUp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Mid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_1 = VaeResnet(c, c)
        self.attn_1 = VaeAttn(c)
        self.block_2 = VaeResnet(c, c)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    def __init__(self, ch, mult, num_res, z):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        c = ch
        for i, m in enumerate(mult):
            lvl = nn.Module()
            lvl.block = nn.ModuleList()
            for _ in range(num_res):
                lvl.block.append(VaeResnet(c, ch * m))
                c = ch * m
            if i != len(mult) - 1:
                lvl.downsample = VaeDown(c)
            self.down.append(lvl)
        self.mid = Mid(c)
        self.norm_out = gn(c, 1e-6)
        self.conv_out = nn.Conv2d(c, 2 * z, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for lvl in self.down:
            for b in lvl.block:
                h = b(h)
            if hasattr(lvl, "downsample"):
                h = lvl.downsample(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch, mult, num_res, z):
        super().__init__()
        c = ch * mult[-1]
        self.conv_in = nn.Conv2d(z, c, 3, padding=1)
        self.mid = Mid(c)
        ups = [None] * len(mult)
        for i in reversed(range(len(mult))):
            lvl = nn.Module()
            lvl.block = nn.ModuleList()
            for _ in range(num_res + 1):
                lvl.block.append(VaeResnet(c, ch * mult[i]))
                c = ch * mult[i]
            if i != 0:
                lvl.upsample = VaeUp(c)
            ups[i] = lvl
        self.up = nn.ModuleList(ups)
        self.norm_out = gn(c, 1e-6)
        self.conv_out = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for i in reversed(range(len(self.up))):
            lvl = self.up[i]
            for b in lvl.block:
                h = b(h)
            if hasattr(lvl, "upsample"):
                h = lvl.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self, ch=32, mult=(1, 1, 2, 2), num_res=1, z=4):
        super().__init__()
        self.encoder = Encoder(ch, mult, num_res, z)
        self.decoder = Decoder(ch, mult, num_res, z)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)
        self.post_quant_conv = nn.Conv2d(z, z, 1)
        self.z = z

    def encode(self, x):
        """(mean, logvar) of the posterior."""
        m = self.quant_conv(self.encoder(x))
        return m[:, : self.z], m[:, self.z:].clamp(-30, 20)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


def checkpoint_state_dict(unet, clip, vae):
    sd = {}
    for prefix, mod in (("model.diffusion_model.", unet), ("cond_stage_model.transformer.", clip), ("first_stage_model.", vae)):
        for k, v in mod.state_dict().items():
            sd[prefix + k] = v
    return sd
