"""Deterministic synthetic captioned shapes (64x64) for the tiny Marble model.

Everything that the semantic test must agree on (palette, positions, sizes, grammar, held-out
combinations) lives in spec.json; token ids come from tokens.json, written by tokenTable.ts with
Marble's own CLIP tokenizer so that training sees exactly the ids the engine will feed.

    python dataset.py --seed 1234 --count 16 --out /tmp/samples   # writes PNG-less .npy previews
"""
import json
import math
import os
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = json.load(open(os.path.join(HERE, "spec.json")))
COLOURS = SPEC["colours"]
COLOUR_NAMES = list(COLOURS)
SHAPES = SPEC["shapes"]
POSITIONS = SPEC["positions"]
POSITION_NAMES = list(POSITIONS)
SIZES = SPEC["sizes"]
PAIRS = SPEC["pairs"]
SIZE = SPEC["imageSize"]
SUPER = 4  # supersampling factor for anti-aliased edges
HELD_OUT = {(c, s, b) for c, s, b, *_ in SPEC["heldOut"]["triples"]}

BOS, EOS, CONTEXT = 49406, 49407, 77


def shape_phrase(size, colour, shape, position):
    return SPEC["grammar"]["shape"].format(size=size, colour=colour, shape=shape, position=POSITIONS[position]["phrase"])


def caption_of(sample):
    parts = [shape_phrase(s["size"], s["colour"], s["shape"], s["position"]) for s in sample["shapes"]]
    shapes = parts[0] if len(parts) == 1 else SPEC["grammar"]["twoShapes"].format(first=parts[0], second=parts[1])
    bg = sample["background"]
    background = bg[0] if len(bg) == 1 else SPEC["grammar"]["twoToneBackground"].format(top=bg[0], bottom=bg[1])
    return SPEC["grammar"]["caption"].format(shapes=shapes, background=background)


def held_out_samples():
    """The 40 test captions: each held-out triple at two (position, size) settings, plain background."""
    out = []
    for c, s, b, p1, z1, p2, z2 in SPEC["heldOut"]["triples"]:
        for p, z in ((p1, z1), (p2, z2)):
            out.append({"shapes": [{"colour": c, "shape": s, "position": p, "size": z}], "background": [b]})
    return out


def is_held_out(sample):
    if len(sample["background"]) != 1:
        return False
    b = sample["background"][0]
    return any((s["colour"], s["shape"], b) in HELD_OUT for s in sample["shapes"])


def random_sample(rng):
    """A caption structure drawn from the grammar, never a held-out combination."""
    while True:
        bg = [COLOUR_NAMES[i] for i in rng.choice(len(COLOUR_NAMES), size=2 if rng.random() < 0.35 else 1, replace=False)]
        if rng.random() < 0.6:
            positions = [POSITION_NAMES[rng.integers(len(POSITION_NAMES))]]
        else:
            positions = list(PAIRS[rng.integers(len(PAIRS))])
            if rng.random() < 0.5:
                positions.reverse()
        free = [c for c in COLOUR_NAMES if c not in bg]
        colours = [free[i] for i in rng.choice(len(free), size=len(positions), replace=False)]
        shapes = [{
            "colour": colours[k],
            "shape": SHAPES[rng.integers(len(SHAPES))],
            "position": positions[k],
            "size": "small" if rng.random() < 0.5 else "large",
        } for k in range(len(positions))]
        sample = {"shapes": shapes, "background": bg}
        if not is_held_out(sample):
            return sample


def _polygon_mask(xs, ys, pts):
    """Even-odd rule over a polygon's edges, vectorised over the grid."""
    inside = np.zeros(xs.shape, dtype=bool)
    n = len(pts)
    for i in range(n):
        x1, y1 = pts[i]
        x2, y2 = pts[(i + 1) % n]
        crosses = (y1 > ys) != (y2 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = x1 + (ys - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (xs < xint)
    return inside


def shape_mask(shape, cx, cy, r, xs, ys):
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if shape == "square":
        h = r * 0.85
        return (np.abs(xs - cx) <= h) & (np.abs(ys - cy) <= h)
    if shape == "triangle":
        pts = [(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)]
        return _polygon_mask(xs, ys, pts)
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return _polygon_mask(xs, ys, pts)
    raise ValueError(f"unknown shape {shape}")


_GRID = None


def _grid():
    global _GRID
    if _GRID is None:
        coords = (np.arange(SIZE * SUPER) + 0.5) / SUPER
        _GRID = np.meshgrid(coords, coords)
    return _GRID


def render(sample, rng=None, jitter=True):
    """uint8 [64, 64, 3]. With rng and jitter: ±2 px position, ±1 px size, ±8 per colour channel."""
    xs, ys = _grid()
    n = SIZE * SUPER
    img = np.zeros((n, n, 3), dtype=np.float32)

    def col(name):
        c = np.array(COLOURS[name], dtype=np.float32)
        if rng is not None and jitter:
            c = np.clip(c + rng.integers(-8, 9, size=3), 0, 255)
        return c

    bg = sample["background"]
    if len(bg) == 1:
        img[:] = col(bg[0])
    else:
        img[: n // 2] = col(bg[0])
        img[n // 2:] = col(bg[1])
    for s in sample["shapes"]:
        cx, cy = POSITIONS[s["position"]]["centre"]
        r = SIZES[s["size"]]
        if rng is not None and jitter:
            cx += rng.uniform(-2, 2)
            cy += rng.uniform(-2, 2)
            r += rng.uniform(-1, 1)
        # Only the shape's bounding box is tested (speed); the grid is in pixel units.
        y0, y1 = max(0, int((cy - r - 1) * SUPER)), min(n, int((cy + r + 1) * SUPER) + 1)
        x0, x1 = max(0, int((cx - r - 1) * SUPER)), min(n, int((cx + r + 1) * SUPER) + 1)
        win = img[y0:y1, x0:x1]
        win[shape_mask(s["shape"], cx, cy, r, xs[y0:y1, x0:x1], ys[y0:y1, x0:x1])] = col(s["colour"])
    small = img.reshape(SIZE, SUPER, SIZE, SUPER, 3).mean(axis=(1, 3))
    return np.clip(np.round(small), 0, 255).astype(np.uint8)


_TOKENS = None


def token_ids(caption):
    """ComfyUI's SD1 tokenization: BOS, tokens, EOS, padded with EOS to 77 (ids from tokens.json)."""
    global _TOKENS
    if _TOKENS is None:
        _TOKENS = json.load(open(os.path.join(HERE, "tokens.json")))["words"]
    ids = [BOS]
    for w in re.findall(r"[a-z]+|,", caption.lower()):
        if w not in _TOKENS:
            raise KeyError(f"'{w}' is not in tokens.json; rerun tokenTable.ts")
        ids.extend(_TOKENS[w])
    ids.append(EOS)
    if len(ids) > CONTEXT:
        raise ValueError(f"caption too long: {caption}")
    return ids + [EOS] * (CONTEXT - len(ids))


def make_dataset(count, seed):
    """(images uint8 [N,64,64,3], captions list[str]) drawn deterministically from `seed`."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIZE, SIZE, 3), dtype=np.uint8)
    captions = []
    for i in range(count):
        s = random_sample(rng)
        images[i] = render(s, rng)
        captions.append(caption_of(s))
    return images, captions


def vocabulary():
    words = set(re.findall(r"[a-z]+|,", " ".join([
        SPEC["grammar"]["shape"], SPEC["grammar"]["twoShapes"], SPEC["grammar"]["caption"], SPEC["grammar"]["twoToneBackground"],
        " ".join(COLOUR_NAMES), " ".join(SHAPES), " ".join(SIZES), " ".join(p["phrase"] for p in POSITIONS.values()),
    ]).replace("{", " {").replace("}", "} ")))
    words = {w for w in words if w not in {"size", "colour", "shape", "position", "first", "second", "shapes", "background", "top", "bottom"}} | {"background", "top", "bottom"}
    return sorted(words)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--out", default=None, help="write a preview grid (.ppm) and captions here")
    ap.add_argument("--vocab", action="store_true", help="print the grammar's words")
    a = ap.parse_args()
    if a.vocab:
        print(" ".join(vocabulary()))
    else:
        imgs, caps = make_dataset(a.count, a.seed)
        for c in caps:
            print(c)
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            cols = 8
            rows = (len(imgs) + cols - 1) // cols
            grid = np.zeros((rows * SIZE, cols * SIZE, 3), dtype=np.uint8)
            for i, im in enumerate(imgs):
                grid[(i // cols) * SIZE:(i // cols + 1) * SIZE, (i % cols) * SIZE:(i % cols + 1) * SIZE] = im
            with open(os.path.join(a.out, "grid.ppm"), "wb") as f:
                f.write(b"P6 %d %d 255\n" % (grid.shape[1], grid.shape[0]) + grid.tobytes())
