"""MI estimator training speed: divkit.mi.fit vs a plain hand-written PyTorch loop, same critic, same bound.

    python bench/bench_mi.py [--steps 200] [--device cpu|cuda] [--threads 1]

Both loops see the same pre-generated minibatches (d = 20, K = 64, correlated Gaussians, MI = 4 nats), start from
identical critic weights and use Adam(5e-4). Timed alternately (ours, plain, ours, plain, ...), best of --repeats.
Ratio = our steps/s ÷ plain steps/s (≥ 1.0 means no overhead from the library).
"""
from __future__ import annotations

import argparse
import copy
import math
import time

import torch

import divkit as dk
from divkit.mi import fit, make_critic, make_estimator


def plain_bound(name, s):
    """The bounds written inline, the way a user's script would (logsumexp with a -inf diagonal)."""
    k = s.shape[0]
    eye = torch.eye(k, dtype=torch.bool, device=s.device)
    diag = s.diagonal()
    if name == "infonce":
        return (diag - torch.logsumexp(s, 1)).mean() + math.log(k)
    if name == "nwj":
        return diag.mean() - torch.exp(s - 1.0).masked_fill(eye, 0.0).sum() / (k * (k - 1))
    lme = torch.logsumexp(s.masked_fill(eye, -math.inf).flatten(), 0) - math.log(k * (k - 1))
    if name == "dv":
        return diag.mean() - lme
    if name == "smile":
        js = -torch.nn.functional.softplus(-diag).mean() - \
            torch.nn.functional.softplus(s).masked_fill(eye, 0.0).sum() / (k * (k - 1))
        lme_c = torch.logsumexp(s.clamp(-5, 5).masked_fill(eye, -math.inf).flatten(), 0) - math.log(k * (k - 1))
        return js + (diag.mean() - lme_c - js).detach()
    raise ValueError(name)


def plain_loop(critic, name, batches, lr):
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    vals = []
    for x, y in batches:
        b = plain_bound(name, critic(x, y))
        opt.zero_grad(set_to_none=True)
        (-b).backward()
        opt.step()
        vals.append(b.detach())
    return torch.stack(vals)


def ours(critic, name, batches, lr):
    return fit(critic, make_estimator(name), lambda i: batches[i], len(batches), lr=lr, progress=False)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--estimators", default="infonce,nwj,dv,smile")
    ap.add_argument("--critics", default="separable,concat")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    batches = [tuple(t.to(dev) for t in dk.mi.correlated_gaussians(20, 4.0, 64, seed=g)) for _ in range(args.steps)]
    print(f"device={dev}, threads={torch.get_num_threads()}, steps={args.steps}, d=20, K=64, hidden=256")
    print(f"| {'estimator':9s} | {'critic':9s} | {'ours (steps/s)':>14s} | {'plain (steps/s)':>15s} | {'ratio':>5s} |")
    print("|---|---|---|---|---|")
    for critic in args.critics.split(","):
        torch.manual_seed(0)
        base = make_critic(critic, 20, 20).to(dev)
        for name in args.estimators.split(","):
            best = {"ours": math.inf, "plain": math.inf}
            for r in range(args.repeats):
                for label, fn in (("ours", ours), ("plain", plain_loop)):
                    c = copy.deepcopy(base)
                    fn(c, name, batches[:5], 5e-4)  # warm-up
                    sync(dev)
                    t0 = time.perf_counter()
                    fn(c, name, batches, 5e-4)
                    sync(dev)
                    best[label] = min(best[label], time.perf_counter() - t0)
            so, sp = args.steps / best["ours"], args.steps / best["plain"]
            print(f"| {name:9s} | {critic:9s} | {so:14.1f} | {sp:15.1f} | {so / sp:5.2f} |")


if __name__ == "__main__":
    main()
