"""The texmesh formula recogniser: a small CNN + transformer encoder over the
image, and a transformer decoder over canonical LaTeX tokens.

Input contract (pipeline/model-input.ts): float32 [B, 1, 64, 512], 1 = ink.
The encoder gives memory [B, 256, D] (a 4 x 64 grid of image positions); a
decoder step takes memory and the tokens so far [B, T] and gives the
log-probabilities of the next token [B, V].
"""
import math

import torch
from torch import nn

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]


class _Bmm(torch.autograd.Function):
    """torch.bmm whose backward also multiplies contiguous operands: the CPU
    build's bmm is ten times slower when an operand is a transposed view."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return torch.bmm(a, b)

    @staticmethod
    def backward(ctx, g):
        # dA = g B^T and dB = A^T g. In attention one operand is the large scores matrix (t x s):
        # transposing it into a contiguous copy cost more than the product. Where an operand is larger
        # than g and the result together, the product is taken the other way round and its result
        # left transposed (a view; whoever reads it next copies only the small result).
        a, b = ctx.saved_tensors
        g = g.contiguous()
        da = (torch.bmm(b, g.transpose(1, 2).contiguous()).transpose(1, 2) if b.numel() > g.numel() + a.numel()
              else torch.bmm(g, b.transpose(1, 2).contiguous()))
        db = (torch.bmm(g.transpose(1, 2).contiguous(), a).transpose(1, 2) if a.numel() > g.numel() + b.numel()
              else torch.bmm(a.transpose(1, 2).contiguous(), g))
        return da, db


EXPORTING = False


def bmm(a, b):
    # Autocast casts torch.bmm's operands, but _Bmm's backward runs outside it: cast them here.
    if torch.is_autocast_cpu_enabled():
        a, b = a.to(torch.get_autocast_cpu_dtype()), b.to(torch.get_autocast_cpu_dtype())
    elif torch.is_autocast_enabled():
        a, b = a.to(torch.get_autocast_gpu_dtype()), b.to(torch.get_autocast_gpu_dtype())
    a, b = a.contiguous(), b.contiguous()
    return torch.bmm(a, b) if EXPORTING or not torch.is_grad_enabled() else _Bmm.apply(a, b)


class Attention(nn.Module):
    """Multi-head attention written with plain matmuls on contiguous operands
    (the CPU build's batched matmul is ten times slower on a transposed operand)
    and standard ONNX ops."""

    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mem, mask=None):
        b, t, d = x.shape
        s = mem.shape[1]
        hd = d // self.h
        # The scale goes on the queries (t x hd), not on the scores (t x s), the larger tensor.
        q = (self.q(x) * (1.0 / math.sqrt(hd))).view(b, t, self.h, hd).transpose(1, 2).reshape(b * self.h, t, hd)
        k, v = self.kv(mem).view(b, s, 2, self.h, hd).permute(2, 0, 3, 1, 4).reshape(2, b * self.h, s, hd)
        kt = k.transpose(1, 2).contiguous()
        att = bmm(q, kt)
        if mask is not None:
            att = att + mask
        att = torch.softmax(att, dim=-1)
        y = bmm(att, v).view(b, self.h, t, hd).transpose(1, 2).reshape(b, t, d)
        return self.o(y)


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm, normalising in float32: PyTorch 1.13's CPU autocast hands layer_norm bfloat16
    input beside float32 weights, which it refuses. A no-op for float32 input (and in the export)."""

    def forward(self, x):
        return super().forward(x if x.dtype == torch.float32 else x.float())


class Block(nn.Module):
    """A pre-norm transformer block: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, d, heads, ff, cross=False):
        super().__init__()
        self.n1 = LayerNorm(d)
        self.self_att = Attention(d, heads)
        self.cross = cross
        if cross:
            self.n2 = LayerNorm(d)
            self.cross_att = Attention(d, heads)
        self.n3 = LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, mem=None, mask=None):
        h = self.n1(x)
        x = x + self.self_att(h, h, mask)
        if self.cross:
            x = x + self.cross_att(self.n2(x), mem)
        return x + self.ff(self.n3(x))


def causal_mask(t, device):
    return torch.triu(torch.full((t, t), float("-inf"), device=device), diagonal=1)


def conv(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def sinusoid_2d(rows, cols, d):
    """Fixed 2-D position code [rows, cols, d]: half the channels encode the row, half the column."""
    half = d // 2
    freq = torch.exp(torch.arange(0, half, 2, dtype=torch.float32) * (-math.log(1000.0) / half))

    def code(n):
        pos = torch.arange(n, dtype=torch.float32)[:, None] * freq[None]
        return torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)  # n, half

    r = code(rows)[:, None, :].expand(rows, cols, half)
    c = code(cols)[None, :, :].expand(rows, cols, half)
    return torch.cat([r, c], dim=2)


class Encoder(nn.Module):
    def __init__(self, d=192, layers=1, heads=4, ff=384, grid=(4, 64)):
        super().__init__()
        # Strided convolutions rather than full-resolution ones followed by pooling: on a
        # 2-core CPU the full-resolution feature maps, not the multiply-adds, dominate a step.
        self.cnn = nn.Sequential(
            conv(1, 32, 2),  # 32 x 256
            conv(32, 48, 2),  # 16 x 128
            conv(48, 96, 2),  # 8 x 64
            conv(96, 128), nn.MaxPool2d((2, 1)),  # 4 x 64
            nn.Conv2d(128, d, 1),
        )
        # Image features are normalised, then given a fixed 2-D position code of the same
        # scale (so the decoder can align from the first step) plus a learned one.
        self.feat_norm = LayerNorm(d)
        self.register_buffer("fixed_pos", sinusoid_2d(grid[0], grid[1], d), persistent=False)
        self.row = nn.Parameter(torch.zeros(grid[0], 1, d))
        self.col = nn.Parameter(torch.zeros(1, grid[1], d))
        nn.init.normal_(self.row, std=0.02)
        nn.init.normal_(self.col, std=0.02)
        self.blocks = nn.ModuleList([Block(d, heads, ff) for _ in range(layers)])
        self.norm = LayerNorm(d)

    def forward(self, image):
        f = self.cnn(image)  # B, D, 4, 64
        f = f.permute(0, 2, 3, 1)  # B, 4, 64, D
        f = self.feat_norm(f) + self.fixed_pos + self.row + self.col
        f = f.flatten(1, 2)  # B, 256, D
        for blk in self.blocks:
            f = blk(f)
        return self.norm(f)


class Decoder(nn.Module):
    def __init__(self, vocab, d=192, layers=3, heads=4, ff=768, max_len=160):
        super().__init__()
        self.d = d
        self.embed = nn.Embedding(vocab, d, padding_idx=PAD)
        self.pos = nn.Embedding(max_len, d)
        # Small embeddings: the residual stream must not drown what cross-attention reads from the image.
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(d, heads, ff, cross=True) for _ in range(layers)])
        self.norm = LayerNorm(d)
        self.out = nn.Linear(d, vocab)

    def hidden(self, memory, tokens):
        t = tokens.shape[1]
        pos = torch.arange(t, device=tokens.device)
        x = self.embed(tokens) + self.pos(pos)[None]
        # Causal masking alone suffices: padding only ever follows the end token.
        mask = causal_mask(t, tokens.device)
        for blk in self.blocks:
            x = blk(x, memory, mask)
        return self.norm(x)

    def forward(self, memory, tokens):
        """Logits [B, T, V] for every position of tokens [B, T] (teacher forcing)."""
        return self.out(self.hidden(memory, tokens))


class Recognizer(nn.Module):
    def __init__(self, vocab, d=192):
        super().__init__()
        self.encoder = Encoder(d=d)
        self.decoder = Decoder(vocab, d=d)

    def forward(self, image, tokens):
        return self.decoder(self.encoder(image), tokens)


class DecoderStep(nn.Module):
    """For export: log-probabilities of the next token after tokens [B, T]."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, memory, tokens):
        y = self.decoder.hidden(memory, tokens)
        return torch.log_softmax(self.decoder.out(y[:, -1]), dim=-1)


@torch.no_grad()
def greedy(model, images, max_len=160):
    model.eval()
    memory = model.encoder(images)
    b = images.shape[0]
    tokens = torch.full((b, 1), BOS, dtype=torch.long, device=images.device)
    done = torch.zeros(b, dtype=torch.bool, device=images.device)
    step = DecoderStep(model.decoder)
    for _ in range(max_len):
        nxt = step(memory, tokens).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    return until_end(tokens[:, 1:].tolist())


def until_end(rows):
    """Each row of token ids up to (not including) its first EOS or PAD."""
    out = []
    for row in rows:
        seq = []
        for t in row:
            if t in (EOS, PAD):
                break
            seq.append(t)
        out.append(seq)
    return out


def _heads(x, h):
    """[B, T, D] -> [B, h, T, D/h]"""
    b, t, d = x.shape
    return x.view(b, t, h, d // h).transpose(1, 2)


class CrossMemory(nn.Module):
    """For export: the encoder, plus each decoder block's cross-attention keys and values,
    computed once per image rather than at every decoder step.
    Gives memory [B, S, D], then per block cross_k{i} [B, h, D/h, S] (transposed) and
    cross_v{i} [B, h, S, D/h]."""

    def __init__(self, net):
        super().__init__()
        self.encoder = net.encoder
        self.blocks = net.decoder.blocks

    def forward(self, image):
        memory = self.encoder(image)
        out = [memory]
        for blk in self.blocks:
            att = blk.cross_att
            k, v = att.kv(memory).chunk(2, dim=-1)
            out.append(_heads(k, att.h).transpose(-1, -2))
        for blk in self.blocks:
            att = blk.cross_att
            k, v = att.kv(memory).chunk(2, dim=-1)
            out.append(_heads(v, att.h))
        return tuple(out)


class CachedDecoderStep(nn.Module):
    """For export: one decoder step with a key/value cache. Every row is at the same position.

    The cache lives with the caller, in slots of D floats: a step's rows write their keys and
    values to slots of their own, and each row names the slots it attends to, one per earlier
    position (its hypothesis's ancestors: beam search keeps some hypotheses and repeats others).
    So nothing in the cache is ever copied or reordered, and a step returns only its own rows.

    Inputs: token [N] (the last token of each row), position [1] (its index, T), history [N, T]
    (per row, the slot of each earlier position), then per block cross_k{i} [1, h, D/h, S] and
    cross_v{i} [1, h, S, D/h] (one image, shared by the rows), then per block past_k{i} and
    past_v{i} [slots, D].
    Outputs: logprobs [N, V], then per block new_k{i} and new_v{i} [N, D]: this step's keys and
    values, for the caller to store.

    Built for onnxruntime's per-step cost, which is per operator and per copied byte rather
    than arithmetic: one tensor per block, rows as a 2-D [N, D] stream (linear layers become
    one Gemm with the bias), self-attention without head reshapes (per-head sums and spreads
    as products with constant 0/1 matrices), cross-attention with the rows as the rows of one
    matrix product per head, and constant shapes (-1 for the rows; sizes read from a traced
    tensor become Shape/Gather chains run every step)."""

    def __init__(self, decoder):
        super().__init__()
        self.dec = decoder
        d, h = decoder.d, decoder.blocks[0].self_att.h
        hd = d // h
        # head_sum [D, h]: sums each head's channels (scaled for attention); head_spread [h, D]: the reverse.
        onehot = torch.zeros(d, h)
        onehot[torch.arange(d), torch.arange(d) // hd] = 1.0
        self.register_buffer("head_sum", onehot / math.sqrt(hd), persistent=False)
        self.register_buffer("head_spread", onehot.t().contiguous(), persistent=False)

    def forward(self, token, position, history, *tensors):
        dec = self.dec
        d, n = dec.d, len(dec.blocks)
        cross_k, cross_v = tensors[:n], tensors[n:2 * n]
        past_k, past_v = tensors[2 * n:3 * n], tensors[3 * n:]
        x = dec.embed(token) + dec.pos(position)  # N, D
        new_k, new_v = [], []
        for i, blk in enumerate(dec.blocks):
            att, catt = blk.self_att, blk.cross_att
            h, hd = att.h, d // att.h
            scale = 1.0 / math.sqrt(hd)
            hn = blk.n1(x)
            q = att.q(hn)
            kv = att.kv(hn)
            k_now, v_now = kv[:, :d], kv[:, d:]
            new_k.append(k_now)
            new_v.append(v_now)
            k = torch.cat([nn.functional.embedding(history, past_k[i]), k_now.unsqueeze(1)], dim=1)  # N, T+1, D
            v = torch.cat([nn.functional.embedding(history, past_v[i]), v_now.unsqueeze(1)], dim=1)
            a = torch.softmax(torch.matmul(q.unsqueeze(1) * k, self.head_sum), dim=1)  # N, T+1, h
            x = x + att.o((torch.matmul(a, self.head_spread) * v).sum(dim=1))
            # Per head, the rows' queries [h, N, hd] against the image's keys [h, hd, S].
            q = catt.q(blk.n2(x)).reshape(-1, h, hd).transpose(0, 1)
            a = torch.softmax(torch.matmul(q * scale, cross_k[i].reshape(h, hd, -1)), dim=-1)
            y = torch.matmul(a, cross_v[i].reshape(h, -1, hd)).transpose(0, 1).reshape(-1, d)
            x = x + catt.o(y)
            x = x + blk.ff(blk.n3(x))
        logits = dec.out(dec.norm(x))
        return (torch.log_softmax(logits, dim=-1), *new_k, *new_v)
