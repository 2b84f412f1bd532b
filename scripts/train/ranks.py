"""Data-parallel training on one machine's cores (train2.py --ranks N): one process a core, each
with its own batches, gradients averaged over gloo on loopback every step.

The ranks are forked from the trainer (so they share its command line, and `run2.sh pause`
pauses them all), each pinned to one core of the trainer's affinity. What has to be
decided together (the clock, stopping, a checkpoint, a dev check) is decided by rank 0, or by any
rank for stopping, and shared in the step's own exchange, so no rank waits on a collective the
others never call. Rank 0 alone logs and saves; each rank reads its share of a dev check.
"""
from datetime import timedelta
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

import torch
import torch.distributed as dist
from torch import nn


JOIN_SECONDS = 300


def _join(rank, n, store_path, children=()):
    """This process as rank `rank` of `n`: pinned to its core, in the gloo group (loopback only).
    Rank 0 waits for the others to check in, for minutes at most, and stops waiting at once if one
    of `children` has ended; the collectives after that wait for days, so that a run paused with
    SIGSTOP (tests, a benchmark) goes on when continued."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[rank]})
    # The rendezvous is a file in a private folder: no port for anything else to reach.
    store = dist.FileStore(store_path, n)
    store.set_timeout(timedelta(seconds=JOIN_SECONDS))
    store.add("joined", 1)
    if rank == 0:
        deadline = time.time() + JOIN_SECONDS
        while store.add("joined", 0) < n:
            ended = [pid for pid in children if os.waitpid(pid, os.WNOHANG)[0] != 0]
            if ended or time.time() > deadline:
                raise RuntimeError(f"rank processes {ended or children} never joined")
            time.sleep(0.05)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=n, timeout=timedelta(days=7))


def start(n, run):
    """run(rank, world) on n ranks: rank 0 in this process, the others forked from it. Returns rank 0's
    result once every rank has ended; exits non-zero if one failed."""
    if n <= 1:
        return run(0, 1)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < n:
        sys.exit(f"--ranks {n} needs {n} cores; this process may run on {len(cores)} ({cores})")
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # gloo's connections on loopback, not the host's address
    folder = tempfile.mkdtemp(prefix="texmesh-ranks-")
    store_path = os.path.join(folder, "store")
    children = []
    for rank in range(1, n):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _join(rank, n, store_path)
                run(rank, n)
            except BaseException:  # noqa: B036 (a forked rank must never return into the caller's code)
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        _join(0, n, store_path, children)
        result = run(0, n)
    except BaseException:
        for pid in children:  # they would wait on rank 0 in the next exchange; rank 0 alone saves
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:  # already ended and reaped while joining
                pass
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    if failed:
        sys.exit(f"rank processes {failed} failed")
    return result


def exchange(params, world, shared):
    """Average the gradients over the ranks, and sum `shared` (a list of numbers) over them."""
    shared = torch.tensor(shared, dtype=torch.float64)
    if world == 1:
        return shared.tolist()
    # (A parameter without a gradient on this rank counts as zero; every parameter of these models has one.)
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    work = dist.all_reduce(flat, async_op=True)
    dist.all_reduce(shared)
    work.wait()
    flat /= world
    i = 0
    for p, g in zip(params, grads):
        p.grad = flat[i: i + g.numel()].view_as(p).to(p.dtype)
        i += g.numel()
    return shared.tolist()


def average_buffers(model, world):
    """BatchNorm's running statistics, averaged over the ranks (each measured them on its own batches)."""
    if world == 1:
        return
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            for b in (m.running_mean, m.running_var):
                dist.all_reduce(b)
                b /= world
