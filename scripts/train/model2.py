"""The texmesh v2 recogniser: glyph-normalised canvases of any width (scripts/train/glyph.py),
a CNN with early downsampling and a transformer encoder over the feature grid, and a shallow
transformer decoder over canonical LaTeX tokens.

Input: float32 [B, 1, H, W], 1 = ink, H a multiple of 16 and W of 32 (blank canvas pads a batch).
The encoder gives memory [B, (H/16) * (W/8), D]; the decoder is model.py's.
Sizes come from a config dict (ARCHS), saved with every checkpoint.
"""
import math

import torch
from torch import nn

from model import Block, Decoder, LayerNorm, DecoderStep, BOS, EOS, PAD, UNK, greedy, until_end  # noqa: F401  (re-exported)

MAX_ROWS = 16  # H <= 256
MAX_COLS = 512  # W <= 4096


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Residual(nn.Module):
    """Two 3x3 convolutions with a shortcut (a ResNet basic block)."""

    def __init__(self, c):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                               nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(x + self.a(x))


def sinusoid(n, dim, device):
    half = dim // 2
    freq = torch.exp(torch.arange(0, half, dtype=torch.float32, device=device) * (-math.log(1000.0) / half))
    pos = torch.arange(n, dtype=torch.float32, device=device)[:, None] * freq[None]
    return torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)  # n, dim


class Encoder2(nn.Module):
    """CNN: strided stem to 1/4, stages of residual blocks, down to rows of 16 px and columns of 8 px."""

    def __init__(self, d=192, widths=(32, 64, 128), blocks=(0, 1, 1), layers=2, heads=4, ff=512, layout="v2",
                 deep=(0, 0)):
        super().__init__()
        # v1's CNN deepened (layout v1 only): deep[0] residual blocks of 96 channels at 1/8, deep[1] of 128
        # after the row pooling. Kept apart from `cnn`, so that its weights keep their names, and each
        # block starts as the identity (its last batch norm's scale 0): a trained v1net loads into the
        # deeper network and reads exactly as before until training moves the new blocks.
        self.deep = nn.ModuleList([nn.Sequential(*[Residual(96) for _ in range(deep[0])]),
                                   nn.Sequential(*[Residual(128) for _ in range(deep[1])])]) if any(deep) else None
        if self.deep is not None:
            if layout != "v1":
                raise ValueError("deep blocks belong to the v1 layout")
            for stage in self.deep:
                for blk in stage:
                    nn.init.zeros_(blk.a[4].weight)
        if layout == "v1":
            # v1's CNN exactly (model.py Encoder), so v1's weights load into it: fully convolutional,
            # it reads canvases of any size.
            stages = [conv_bn(1, 32, 2), conv_bn(32, 48, 2), conv_bn(48, 96, 2), conv_bn(96, 128), nn.MaxPool2d((2, 1)),
                      nn.Conv2d(128, d, 1)]
        else:
            c1, c2, c3 = widths
            stages = [conv_bn(1, c1, 2), conv_bn(c1, c2, 2)]  # 1/4
            stages += [Residual(c2) for _ in range(blocks[1])]
            stages += [conv_bn(c2, c3, 2)]  # 1/8
            stages += [Residual(c3) for _ in range(blocks[2])]
            stages += [nn.Sequential(nn.Conv2d(c3, c3, 3, stride=(2, 1), padding=1, bias=False), nn.BatchNorm2d(c3),
                                     nn.ReLU(inplace=True))]  # rows 1/16, columns 1/8
            stages += [nn.Conv2d(c3, d, 1)]
        self.cnn = nn.Sequential(*stages)
        self.d = d
        self.feat_norm = LayerNorm(d)
        self.row = nn.Parameter(torch.randn(MAX_ROWS, 1, d) * 0.02)
        self.col = nn.Parameter(torch.randn(1, MAX_COLS, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, ff) for _ in range(layers)])
        self.norm = LayerNorm(d)

    def features(self, image):
        if self.deep is None:
            return self.cnn(image)
        f = self.deep[0](self.cnn[:3](image))  # 96 channels at 1/8
        f = self.deep[1](self.cnn[3:5](f))  # 128, rows 1/16
        return self.cnn[5:](f)

    def forward(self, image):
        f = self.features(image)  # B, D, R, C
        r, c = f.shape[2], f.shape[3]
        f = f.permute(0, 2, 3, 1)  # B, R, C, D
        half = self.d // 2
        fixed = torch.cat([sinusoid(r, half, f.device)[:, None, :].expand(r, c, half),
                           sinusoid(c, half, f.device)[None, :, :].expand(r, c, half)], dim=2)
        f = self.feat_norm(f) + fixed + self.row[:r] + self.col[:, :c]
        f = f.flatten(1, 2)
        for blk in self.blocks:
            f = blk(f)
        return self.norm(f)


class CountHead(nn.Module):
    """Training only (CAN-style symbol counting): from the encoder's memory, how many times each
    vocabulary symbol appears; a loss on it makes the encoder account for every glyph."""

    def __init__(self, d, vocab):
        super().__init__()
        self.proj = nn.Linear(d, vocab)

    def forward(self, memory):
        return torch.sigmoid(self.proj(memory)).sum(dim=1)  # B, V


ARCHS = {
    # v1's shape on the new geometry: 1 encoder block, 3 decoder blocks, the plain CNN.
    "v1like": dict(d=192, widths=(32, 64, 128), blocks=(0, 0, 0), enc_layers=1, dec_layers=3, heads=4,
                   enc_ff=384, dec_ff=768),
    # Capacity in the encoder (residual CNN, 2 blocks), a 2-block decoder.
    "enc2dec2": dict(d=192, widths=(32, 64, 128), blocks=(0, 1, 1), enc_layers=2, dec_layers=2, heads=4,
                     enc_ff=512, dec_ff=768),
    "enc3dec2w": dict(d=256, widths=(32, 64, 160), blocks=(0, 1, 2), enc_layers=3, dec_layers=2, heads=4,
                      enc_ff=768, dec_ff=1024),
    # v1's network itself (its CNN, one encoder block, three decoder blocks), on canvases of any size:
    # v1's shipped weights load into it (train2.py --init with from_onnx.py's recovery).
    "v1net": dict(d=192, widths=(32, 48, 128), blocks=(0, 0, 0), enc_layers=1, dec_layers=3, heads=4,
                  enc_ff=384, dec_ff=768, layout="v1"),
    # v1net with a residual block at 1/8 and one after the row pooling, where the feature grid is small:
    # the capacity question of decision 28, grown from a trained v1net (train2.py --init).
    "v1net-deep": dict(d=192, widths=(32, 48, 128), blocks=(0, 0, 0), enc_layers=1, dec_layers=3, heads=4,
                       enc_ff=384, dec_ff=768, layout="v1", deep=(1, 1)),
}


class Recognizer2(nn.Module):
    def __init__(self, vocab, arch="enc2dec2", count_head=False):
        super().__init__()
        a = ARCHS[arch] if isinstance(arch, str) else arch
        self.arch = dict(a)
        self.encoder = Encoder2(d=a["d"], widths=a["widths"], blocks=a["blocks"], layers=a["enc_layers"],
                                heads=a["heads"], ff=a["enc_ff"], layout=a.get("layout", "v2"), deep=tuple(a.get("deep", (0, 0))))
        self.decoder = Decoder(vocab, d=a["d"], layers=a["dec_layers"], heads=a["heads"], ff=a["dec_ff"])
        self.count = CountHead(a["d"], vocab) if count_head else None

    def forward(self, image, tokens):
        return self.decoder(self.encoder(image), tokens)


def _split_heads(x, h):
    b, t, d = x.shape
    return x.view(b, t, h, d // h).transpose(1, 2)  # B, h, T, hd


@torch.no_grad()
def greedy_cached(model, images, max_len=160):
    """Greedy decoding with a key/value cache (model.greedy recomputes every prefix): the same
    answers, for the trainer's dev checks. Returns token id lists without <bos>/<eos>."""
    model.eval()
    dec = model.decoder
    mem = model.encoder(images)
    b = images.shape[0]
    h = dec.blocks[0].self_att.h
    scale = 1.0 / math.sqrt(dec.d // h)
    cross = []
    for blk in dec.blocks:
        k, v = blk.cross_att.kv(mem).chunk(2, dim=-1)
        cross.append((_split_heads(k, h).transpose(-1, -2).contiguous(), _split_heads(v, h).contiguous()))
    past = [None] * len(dec.blocks)
    tok = torch.full((b,), BOS, dtype=torch.long, device=images.device)
    done = torch.zeros(b, dtype=torch.bool, device=images.device)
    out = []
    for t in range(min(max_len, dec.pos.num_embeddings)):
        x = (dec.embed(tok) + dec.pos.weight[t])[:, None]  # B, 1, D
        for i, blk in enumerate(dec.blocks):
            att = blk.self_att
            n1 = blk.n1(x)
            q = _split_heads(att.q(n1), h)
            k, v = att.kv(n1).chunk(2, dim=-1)
            k, v = _split_heads(k, h), _split_heads(v, h)
            if past[i] is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            past[i] = (k, v)
            a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, dim=-1)
            x = x + att.o(torch.matmul(a, v).transpose(1, 2).reshape(b, 1, -1))
            ca = blk.cross_att
            q = _split_heads(ca.q(blk.n2(x)), h)
            a = torch.softmax(torch.matmul(q, cross[i][0]) * scale, dim=-1)
            x = x + ca.o(torch.matmul(a, cross[i][1]).transpose(1, 2).reshape(b, 1, -1))
            x = x + blk.ff(blk.n3(x))
        nxt = dec.out(dec.norm(x[:, 0])).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out.append(nxt)
        tok = nxt
        done |= nxt == EOS
        if bool(done.all()):
            break
    return until_end(torch.stack(out, 1).tolist())
