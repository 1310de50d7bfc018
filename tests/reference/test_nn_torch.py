# SPDX-License-Identifier: MIT
"""The composite model of tests/test_nn_ops.c (energy -> forces -> force
loss -> parameter gradients) rebuilt in PyTorch (float64, its own autograd
with create_graph=True), compared with what the C tape computes, to 1e-10.

The C test binary writes its inputs and results with `--dump DIR`; this
script reads them, recomputes everything in torch and compares."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402

torch = check.require("torch", "python3-torch")

torch.set_default_dtype(torch.float64)


def binary():
    b = os.environ.get("MLSHIFT_BIN")
    build = os.path.dirname(b) if b else os.path.join(check.ROOT, "build")
    return os.path.join(build, "tests", "test_nn_ops")


def model(d, R, W1, b1, emb, w2, w3):
    N, B, K, H, rc = int(d["dims"][0]), int(d["dims"][1]), int(d["dims"][2]), \
        int(d["dims"][3]), d["dims"][4]
    src = torch.tensor(d["src"].astype(np.int64))
    dst = torch.tensor(d["dst"].astype(np.int64))
    species = torch.tensor(d["species"].astype(np.int64))
    batch = torch.tensor(d["batch"].astype(np.int64))
    E = src.shape[0]
    r = R[dst] - R[src]                                   # (E, 3)
    dist = torch.sqrt((r * r).sum(1, keepdim=True))       # (E, 1)
    freq = torch.arange(1, K + 1, dtype=torch.float64) * np.pi / rc
    rbf = torch.sin(dist * freq) / dist                   # (E, K)
    phi = torch.cat([rbf, dist], 1)                       # (E, K+1)
    u = dist / rc
    env = 1 - 21 * u**5 + 35 * u**6 - 15 * u**7           # (E, 1)
    h = torch.nn.functional.silu(phi @ W1 + b1) * emb[species[src]]   # (E, H)
    m = (h @ w2) * env                                    # (E, 1)
    vec = (r / dist).reshape(E, 3, 1) * (h * env).reshape(E, 1, H)   # (E, 3, H)
    v = torch.zeros(N, 3, H).index_add(0, src, vec)       # (N, 3, H)
    vn = (v * v).sum(1)                                   # (N, H)
    e = torch.tanh(torch.zeros(N, 1).index_add(0, src, m)) + vn @ w3   # (N, 1)
    Eb = torch.zeros(B, 1).index_add(0, batch, e)         # (B, 1)
    return Eb


def main():
    exe = binary()
    check.check(os.path.exists(exe), "C test binary %s exists (build it first)" % exe)
    if not os.path.exists(exe):
        check.done()
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([exe, "--dump", tmp], capture_output=True, text=True)
        check.check(p.returncode == 0, "dump ran: " + p.stderr)
        if p.returncode:
            check.done()
        d = {f[:-4]: np.loadtxt(os.path.join(tmp, f), ndmin=1) for f in os.listdir(tmp)}
    N, H, K = int(d["dims"][0]), int(d["dims"][3]), int(d["dims"][2])
    R = torch.tensor(d["R"].reshape(N, 3), requires_grad=True)
    W1 = torch.tensor(d["W1"].reshape(K + 1, H), requires_grad=True)
    b1 = torch.tensor(d["b1"], requires_grad=True)
    emb = torch.tensor(d["emb"].reshape(-1, H), requires_grad=True)
    w2 = torch.tensor(d["w2"].reshape(H, 1), requires_grad=True)
    w3 = torch.tensor(d["w3"].reshape(H, 1), requires_grad=True)
    params = [W1, b1, emb, w2, w3]
    Eb = model(d, R, *params)
    (dEdR,) = torch.autograd.grad(Eb.sum(), R, create_graph=True)
    F = -dEdR
    Fref = torch.tensor(d["Fref"].reshape(N, 3))
    Eref = torch.tensor(d["Eref"].reshape(-1, 1))
    loss = ((F - Fref) ** 2).sum() + ((Eb - Eref) ** 2).sum()
    grads = torch.autograd.grad(loss, params + [R])

    tol = 1e-10
    check.close(d["out_Eb"], Eb.detach().numpy().ravel(), tol, tol, "energies per structure")
    check.close(d["out_F"], F.detach().numpy().ravel(), tol, tol, "forces")
    check.close(d["out_loss"], [loss.item()], tol, tol, "force loss")
    for name, gt in zip(["W1", "b1", "emb", "w2", "w3", "R"], grads):
        check.close(d["grad_" + name], gt.numpy().ravel(), tol, tol, "d loss / d " + name)
    check.check(np.abs(d["out_F"]).max() > 1e-2, "forces are not trivially small")
    check.done()


main()
