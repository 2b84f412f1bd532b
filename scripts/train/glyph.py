"""The v2 model input, and the degradation the v2 trainer applies on the fly.

Geometry (the Python twin of pipeline/model-input.ts `glyphCanvas`; test/glyph-parity checks the two):
the formula's ink crop is scaled so that its typical glyph (segment.ts `glyphSizeOf`: the median
larger side of its connected components that are not specks) is `glyph` pixels, then placed on a
canvas MARGIN pixels in from the left and centred vertically; the canvas height is a multiple of
16 and its width a multiple of 32, so formulas of any length keep glyphs of one size. A formula
taller than `max_h` is scaled down to fit; one wider than `max_w` is read in pieces by the pipeline
(and squeezed to fit here: training crops are never that wide once scaled).

Degradation (`degrade`) follows scripts/datagen/augment.ts (margins, rotation, stroke, paper and
ink levels, blur, low resolution, noise, binarisation, JPEG), at a source glyph size drawn for
each sample, and then the pipeline's own steps (ink map, crop to the ink, glyph size, scale).
"""
import math

import cv2
import numpy as np
from PIL import Image

MARGIN = 2
INK_THRESHOLD = 110
MIN_INK_CONTRAST = 24
ROW_STEP, COL_STEP = 16, 32


# ---- the pipeline's steps (pipeline/model-input.ts, pipeline/segment.ts) -----------------------

def _percentile(hist, total, q):
    acc = np.cumsum(hist)
    idx = np.searchsorted(acc, total * q)
    return int(min(idx, 255))


def ink_map(gray):
    """model-input.ts inkMap: gray (0 black .. 255 white) to ink (0 paper .. 255 ink)."""
    n = gray.size
    hist = np.bincount(gray.ravel(), minlength=256)
    median = _percentile(hist, n, 0.5)
    invert = median < 128
    paper = median
    off = np.abs(gray.astype(np.int16) - paper) >= MIN_INK_CONTRAST
    if not off.any():
        return np.zeros_like(gray)
    rows = np.nonzero(off.any(axis=1))[0]
    cols = np.nonzero(off.any(axis=0))[0]
    box = gray[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    m = box.size
    bh = np.bincount(box.ravel(), minlength=256)
    q = max(4 / m, 0.0005)
    ink = _percentile(bh, m, 1 - q) if invert else _percentile(bh, m, q)
    span = abs(paper - ink)
    if span < MIN_INK_CONTRAST:
        return np.zeros_like(gray)
    v = gray.astype(np.float64)
    t = (v - paper) / (ink - paper) if invert else (paper - v) / (paper - ink)
    # JavaScript's Math.round (half up) on the clamped share.
    return np.floor(np.clip(t, 0, 1) * 255 + 0.5).astype(np.uint8)


def ink_box(ink, threshold=INK_THRESHOLD):
    """model-input.ts inkBox: (left, top, width, height), or None when there is no ink."""
    on = ink > threshold
    rows = np.nonzero(on.any(axis=1))[0]
    if rows.size == 0:
        return None
    cols = np.nonzero(on.any(axis=0))[0]
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def glyph_size(ink, threshold=INK_THRESHOLD):
    """segment.ts glyphSizeOf: the median larger side of the components with at least 5 px and
    5 % of the largest one's area (the upper median, as segment.ts takes it); 0 without ink."""
    on = (ink > threshold).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(on, connectivity=8)
    if n <= 1:
        return 0
    st = stats[1:]
    area = st[:, cv2.CC_STAT_AREA]
    extent = np.maximum(st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT])
    main = area >= max(5, 0.05 * area.max())
    xs = np.sort(extent[main] if main.any() else extent)
    return max(3, int(xs[len(xs) // 2]))


def resize(img, w, h):
    """The pipeline's resize (model-input.ts resizeInk): down, Lanczos-3 with antialiasing (sharp's
    lanczos3, which PIL's LANCZOS matches to about 1/255 per ink pixel); up, bilinear with pixel
    centres aligned (cv2's INTER_LINEAR, which model-input.ts writes out)."""
    if w < img.shape[1] or h < img.shape[0]:
        return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((w, h), Image.LANCZOS))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def glyph_canvas(crop, glyph, target, max_h, max_w):
    """The model canvas (uint8 ink) for an ink crop whose typical glyph is `glyph` pixels."""
    h0, w0 = crop.shape
    s = target / max(glyph, 1)
    s = min(s, (max_h - 2 * MARGIN) / h0, (max_w - 2 * MARGIN) / w0)
    w = max(1, min(max_w - 2 * MARGIN, round(w0 * s)))
    h = max(1, min(max_h - 2 * MARGIN, round(h0 * s)))
    img = resize(crop, w, h)
    H = min(max_h, ROW_STEP * math.ceil((h + 2 * MARGIN) / ROW_STEP))
    W = min(max_w, COL_STEP * math.ceil((w + 2 * MARGIN) / COL_STEP))
    out = np.zeros((H, W), np.uint8)
    top = MARGIN + (H - 2 * MARGIN - h) // 2
    out[top: top + h, MARGIN: MARGIN + w] = img
    return out


def squeeze_canvas(crop, height=64, width=512):
    """v1's geometry (model-input.ts canvasFromInk): scaled to fit 64 x 512, for comparisons."""
    h0, w0 = crop.shape
    s = min((width - 2 * MARGIN) / w0, (height - 2 * MARGIN) / h0)
    w = max(1, min(width - 2 * MARGIN, round(w0 * s)))
    h = max(1, min(height - 2 * MARGIN, round(h0 * s)))
    img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    out = np.zeros((height, width), np.uint8)
    top = MARGIN + (height - 2 * MARGIN - h) // 2
    out[top: top + h, MARGIN: MARGIN + w] = img
    return out


def pipeline_crop(gray):
    """What the pipeline reads from a gray image: the ink crop and its glyph size (None: no ink)."""
    ink = ink_map(gray)
    box = ink_box(ink)
    if box is None:
        return None
    x, y, w, h = box
    crop = ink[y: y + h, x: x + w]
    g = glyph_size(crop)
    return (crop, g) if g > 0 else None


# ---- degradation ---------------------------------------------------------------------------------

TRAIN = dict(
    p_any=0.9, margin=(0, 40), p_rotate=0.4, max_rotate=2.0, p_stroke=0.25, p_paper=0.45, p_uneven=0.3,
    p_blur=0.4, blur=(0.3, 1.4), p_noise=0.4, noise=(2, 24), p_lowres=0.25, lowres=(0.5, 0.9),
    p_jpeg=0.35, jpeg=(20, 85), p_binarize=0.08,
    # Source glyph sizes (px): low-resolution screenshots up to 300-400 dpi scans.
    glyph=(6.0, 36.0),
)


def _rotate_white(img, deg):
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * s + w * c)), int(math.ceil(h * c + w * s))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)


def degrade(clean_ink, stored_glyph, rng, p=TRAIN):
    """A stored clean ink crop -> a gray page image (0 black .. 255 white) as a scan or screenshot
    of it might look, at a random source glyph size."""
    lo, hi = p["glyph"]
    g_src = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    s = g_src / stored_glyph
    h0, w0 = clean_ink.shape
    w, h = max(1, round(w0 * s)), max(1, round(h0 * s))
    ink = cv2.resize(clean_ink, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    gray = 255 - ink
    if rng.random() >= p["p_any"]:
        return np.pad(gray, 4, constant_values=255)
    if rng.random() < p["p_stroke"]:
        gray = cv2.erode(gray, np.ones((2, 2), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    m = [rng.randint(*p["margin"]) for _ in range(4)]
    gray = cv2.copyMakeBorder(gray, m[0], m[1], m[2], m[3], cv2.BORDER_CONSTANT, value=255)
    if rng.random() < p["p_rotate"]:
        gray = _rotate_white(gray, rng.uniform(-p["max_rotate"], p["max_rotate"]))
    h, w = gray.shape
    if rng.random() < p["p_paper"] or rng.random() < p["p_uneven"]:
        paper0 = rng.randint(175, 255)
        paper1 = rng.randint(165, 255) if rng.random() < p["p_uneven"] else paper0
        ink_level = rng.randint(0, 80)
        t = np.linspace(0, 1, w)[None, :] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None]
        paper = paper0 + (paper1 - paper0) * t
        v = gray.astype(np.float32) / 255
        gray = np.clip(np.rint(ink_level + (paper - ink_level) * v), 0, 255).astype(np.uint8)
    if rng.random() < p["p_blur"]:
        gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(*p["blur"]))
    if rng.random() < p["p_lowres"]:
        k = rng.uniform(*p["lowres"])
        small = cv2.resize(gray, (max(8, round(w * k)), max(8, round(h * k))), interpolation=cv2.INTER_AREA)
        gray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    binarize = rng.random() < p["p_binarize"]
    if not binarize and rng.random() < p["p_noise"]:
        std = rng.uniform(*p["noise"])
        noise = np.random.default_rng(rng.getrandbits(32)).normal(0, std, gray.shape)
        gray = np.clip(np.rint(gray + noise), 0, 255).astype(np.uint8)
    if binarize:
        t = (int(gray.min()) + int(gray.max())) / 2
        gray = np.where(gray < t, 0, 255).astype(np.uint8)
    if rng.random() < p["p_jpeg"]:
        ok, enc = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(*p["jpeg"])])
        if ok:
            gray = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    return gray
