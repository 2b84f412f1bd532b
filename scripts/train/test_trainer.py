"""Unit tests of the trainer's own arithmetic (test/trainer.test.ts runs them, and the trainer end to end):

  python3 -m unittest discover -s scripts/train -p 'test_*.py'
"""
import argparse
import math
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devcheck  # noqa: E402
import ranks  # noqa: E402
from model import Attention, _Bmm, bmm, causal_mask  # noqa: E402
from model2 import Recognizer2  # noqa: E402


class BmmBackward(unittest.TestCase):
    def check(self, a_shape, b_shape):
        torch.manual_seed(0)
        a = torch.randn(*a_shape, dtype=torch.float64, requires_grad=True)
        b = torch.randn(*b_shape, dtype=torch.float64, requires_grad=True)
        g = torch.randn(a_shape[0], a_shape[1], b_shape[2], dtype=torch.float64)
        _Bmm.apply(a, b).backward(g)
        a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
        torch.bmm(a2, b2).backward(g)
        self.assertTrue(torch.allclose(a.grad, a2.grad, atol=1e-12), "dA")
        self.assertTrue(torch.allclose(b.grad, b2.grad, atol=1e-12), "dB")

    def test_scores_times_values(self):
        # att (t x s) @ v (s x hd): dB = att^T g is taken as (g^T att)^T, so att is never copied transposed.
        self.check((3, 5, 40), (3, 40, 4))

    def test_large_right_operand(self):
        # B larger than g and dA together: dA = g B^T is taken as (B g^T)^T.
        self.check((2, 3, 4), (2, 4, 50))

    def test_queries_times_keys(self):
        # q (t x hd) @ k^T (hd x s): the gradient (t x s) is the largest, the plain products.
        self.check((3, 5, 4), (3, 4, 40))

    def test_one_operand_larger(self):
        self.check((2, 30, 6), (2, 6, 3))

    def test_gradcheck(self):
        a = torch.randn(2, 4, 9, dtype=torch.float64, requires_grad=True)
        b = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(_Bmm.apply, (a, b)))

    def test_bfloat16_under_autocast(self):
        # Under CPU autocast the operands are cast to bfloat16 and the gradients come back in it.
        a = torch.randn(2, 8, 16, requires_grad=True)
        b = torch.randn(2, 16, 4, requires_grad=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = bmm(a, b)
        self.assertEqual(y.dtype, torch.bfloat16)
        y.float().sum().backward()
        ref = torch.ones(2, 8, 4) @ b.detach().transpose(1, 2)
        self.assertLess((a.grad - ref).abs().max().item(), 0.1 * ref.abs().max().item())


class AttentionValues(unittest.TestCase):
    def test_matches_the_textbook_formula(self):
        torch.manual_seed(1)
        att = Attention(24, 4)
        x, mem = torch.randn(2, 7, 24), torch.randn(2, 11, 24)
        mask = causal_mask(7, "cpu")
        for m, kv, extra in ((None, mem, None), (mask, x, mask)):
            got = att(x, kv, m)
            q = att.q(x).view(2, 7, 4, 6).transpose(1, 2)
            k, v = att.kv(kv).view(2, kv.shape[1], 2, 4, 6).permute(2, 0, 3, 1, 4)
            s = q @ k.transpose(-1, -2) / math.sqrt(6)
            if extra is not None:
                s = s + extra
            want = att.o((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(2, 7, 24))
            self.assertLess((got - want).abs().max().item(), 1e-5)


def tiny_dev(n=20, seed=0):
    """Dev items as devcheck.dev_set makes them (canvas, label), of several widths, sorted by width."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        w = 32 * (1 + i % 4)
        canvas = (torch.rand(32, w, generator=g) * 255).to(torch.uint8).numpy()
        label = [1] + [int(t) for t in torch.randint(4, 30, (3 + i % 5,), generator=g)] + [2]
        items.append((canvas, label))
    items.sort(key=lambda m: m[0].shape[1])
    return items


class Deeper(unittest.TestCase):
    def test_v1net_weights_read_the_same_in_v1net_deep(self):
        # The deeper network's new blocks start as the identity: a trained v1net's weights, loaded into
        # it (train2.py --init), give the same log-probabilities, in training mode as in evaluation.
        torch.manual_seed(1)
        small = Recognizer2(30, "v1net")
        deep = Recognizer2(30, "v1net-deep")
        got = deep.load_state_dict(small.state_dict(), strict=False)
        self.assertEqual(got.unexpected_keys, [])
        self.assertTrue(got.missing_keys and all(k.startswith("encoder.deep.") for k in got.missing_keys))
        self.assertGreater(sum(p.numel() for p in deep.parameters()), sum(p.numel() for p in small.parameters()))
        x, t = torch.rand(2, 1, 48, 96), torch.randint(4, 30, (2, 7))
        for mode in (False, True):
            small.train(mode)
            deep.train(mode)
            with torch.no_grad():
                self.assertTrue(torch.allclose(small(x, t), deep(x, t), atol=1e-6))
        # ... and training moves them: each new block's zeroed scale gets a gradient.
        deep(x, t).log_softmax(-1)[..., 5].sum().backward()
        for stage in deep.encoder.deep:
            for blk in stage:
                self.assertGreater(float(blk.a[4].weight.grad.abs().sum()), 0)

    def test_deep_blocks_need_the_v1_layout(self):
        with self.assertRaises(ValueError):
            Recognizer2(30, dict(d=192, widths=(32, 64, 128), blocks=(0, 1, 1), enc_layers=1, dec_layers=1, heads=4,
                                 enc_ff=64, dec_ff=64, deep=(1, 0)))


class DevCheck(unittest.TestCase):
    def test_two_ranks_sum_to_what_one_reads(self):
        dev = tiny_dev()
        torch.manual_seed(3)
        model = Recognizer2(30, "v1net")
        folder = tempfile.TemporaryDirectory(prefix="texmesh-devcheck-")
        self.addCleanup(folder.cleanup)
        path = os.path.join(folder.name, "w.pt")
        torch.save(model.state_dict(), path)
        out = {}

        def run(rank, world):
            m = Recognizer2(30, "v1net")
            m.load_state_dict(torch.load(path))
            got = devcheck.evaluate(m, dev, "cpu", None, rank, world)
            if rank == 0:
                out["two"] = got
        old = devcheck.BATCH
        devcheck.BATCH = 4  # (five batches: the ranks read three and two)
        try:
            one = devcheck.evaluate(model, dev, "cpu", None)
            if len(os.sched_getaffinity(0)) >= 2:
                ranks.start(2, run)
            else:  # one core: the second rank's share read here, added as the all-reduce would
                s = devcheck.sums(model, dev, "cpu", 0, 2) + devcheck.sums(model, dev, "cpu", 1, 2)
                out["two"] = (s[0].item() / s[1].item(), None, s[2].item() / s[3].item())
        finally:
            devcheck.BATCH = old
        self.assertAlmostEqual(out["two"][0], one[0], places=9)
        self.assertAlmostEqual(out["two"][2], one[2], places=6)
        if out["two"][1] is not None:
            self.assertEqual(out["two"][1], one[1])

    def test_bands_and_fingerprint(self):
        self.assertEqual([devcheck.band(n) for n in (1, 20, 21, 40, 41, 60, 61, 90, 91)], [0, 0, 1, 1, 2, 2, 3, 3, 4])
        dev = tiny_dev()
        self.assertEqual(devcheck.fingerprint(dev), devcheck.fingerprint(tiny_dev()))
        self.assertNotEqual(devcheck.fingerprint(dev), devcheck.fingerprint(tiny_dev(seed=1)))
        self.assertIsNone(devcheck.evaluate(Recognizer2(30, "v1net"), None, "cpu"))
        self.assertIsNone(devcheck.dev_set(None, [], "glyph", argparse.Namespace()))


if __name__ == "__main__":
    unittest.main()
