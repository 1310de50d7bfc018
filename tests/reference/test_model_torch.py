# SPDX-License-Identifier: MIT
"""PaiNN and SchNet rebuilt in PyTorch (float64, torch.autograd with
create_graph=True) from the equations in docs/models.md, fed the weights of
the model files the C code wrote; energies, forces, the force loss and its
gradient with respect to every parameter are compared to 1e-9.

Independent of the C code: the model file is parsed here with struct (and
its CRC-32 checked with zlib), neighbour lists come from brute force
(molecules) and ase.neighborlist (the periodic slab), and the networks are
written with torch ops. `test_model --dump DIR` writes the inputs and the
C results."""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402

torch = check.require("torch", "python3-torch")

torch.set_default_dtype(torch.float64)
TOL = 1e-9


def binary():
    b = os.environ.get("MLSHIFT_BIN")
    build = os.path.dirname(b) if b else os.path.join(check.ROOT, "build")
    return os.path.join(build, "tests", "test_model")


def read_model(path):
    """The model file of docs/models.md: returns (hyper dict, elements,
    stats bytes, ordered list of (name, group, trainable, array))."""
    data = open(path, "rb").read()
    check.check(data[:8] == b"MLSHIFTM", "model magic")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    check.check(zlib.crc32(data[:-4]) & 0xffffffff == crc, "model CRC-32")
    at = [8]

    def u32():
        (x,) = struct.unpack_from("<I", data, at[0])
        at[0] += 4
        return x

    def u64():
        (x,) = struct.unpack_from("<Q", data, at[0])
        at[0] += 8
        return x

    def f64():
        (x,) = struct.unpack_from("<d", data, at[0])
        at[0] += 8
        return x

    def string():
        n = u32()
        s = data[at[0]:at[0] + n].decode()
        at[0] += n
        return s

    version = u32()
    check.check(version == 3, "model version 3 (got %d)" % version)
    h = {"arch": string()}
    for k in ["F", "K", "T", "k", "j", "every"]:
        h[k] = u32()
    h["r_basis"] = f64()
    h["eps"] = f64()
    h["units"] = string()
    S = u32()
    z = [u32() for _ in range(S)]
    ns = u64()
    stats = data[at[0]:at[0] + ns]
    at[0] += ns
    nm = u64()  # the training record (JSON), version 2
    at[0] += nm
    tensors = []
    for _ in range(u32()):
        name = string()
        group, trainable, ndim = u32(), u32(), u32()
        shape = [u64() for _ in range(ndim)]
        n = int(np.prod(shape)) if shape else 1
        a = np.frombuffer(data, "<f8", n, at[0]).reshape(shape)
        at[0] += 8 * n
        tensors.append((name, group, trainable, a.copy()))
    check.check(at[0] == len(data) - 4, "model file fully parsed")
    return h, z, stats, tensors


def edges(R, n, cell, pbc, rc):
    """Full neighbour list of each structure: src, dst, shift vectors S·cell."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list
    src, dst, sh = [], [], []
    off = 0
    for s in range(len(n)):
        Rs = R[off:off + n[s]]
        if pbc[s].any():
            at = Atoms(numbers=[1] * n[s], positions=Rs, cell=cell[s], pbc=pbc[s])
            i, j, S = neighbor_list("ijS", at, rc)
            src += list(i + off)
            dst += list(j + off)
            sh += list(S @ cell[s])
        else:
            for i in range(n[s]):
                for j in range(n[s]):
                    if i != j and np.linalg.norm(Rs[j] - Rs[i]) <= rc:
                        src.append(i + off)
                        dst.append(j + off)
                        sh.append(np.zeros(3))
        off += n[s]
    return (torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long),
            torch.tensor(np.array(sh).reshape(-1, 3)))


def geometry(h, R, src, dst, shift, rc):
    r = R[dst] - R[src] + shift                                  # (E, 3)
    d = torch.sqrt((r * r).sum(1, keepdim=True))                 # (E, 1)
    n = torch.arange(1, h["K"] + 1, dtype=R.dtype)
    rbf = torch.sin(n * np.pi * d / h["r_basis"]) / d            # (E, K)
    x = d / rc
    env = 1 - 21 * x**5 + 35 * x**6 - 15 * x**7                  # (E, 1)
    return r, d, rbf, env


def silu(x):
    return x * torch.sigmoid(x)


def prefix(h, t, head):
    return "blocks.%d" % t if t < h["k"] else "%s.blocks.%d" % (head, t)


def mlp(P, p, s):
    return silu(s @ P[p + ".readout.W1"] + P[p + ".readout.b1"]) @ P[p + ".readout.W2"] \
        + P[p + ".readout.b2"]


def block_readout(h, P, head, t, s, acc):
    """readout every (GemNet's output blocks): block t < T-1 adds its own
    readout of s to the sum the head's readout completes."""
    if not h["every"] or t + 1 == h["T"]:
        return acc
    return acc + mlp(P, prefix(h, t, head), s)


def readout(P, head, s, species, seg, B, acc):
    e = (mlp(P, head, s) + acc) * P[head + ".scale"] + P[head + ".shift"] \
        + P[head + ".atom_ref"][species]
    return torch.zeros(B, 1).index_add(0, seg, e)


def painn(h, P, head, R, species, seg, B, src, dst, shift, rc):
    N, F = R.shape[0], h["F"]
    r, d, rbf, env = geometry(h, R, src, dst, shift, rc)
    s = P["embedding"][species]
    v = torch.zeros(N, 3, F)
    acc = torch.zeros(N, 1)
    for t in range(h["T"]):
        p = prefix(h, t, head) + "."
        phi = silu(s @ P[p + "msg.W1"] + P[p + "msg.b1"]) @ P[p + "msg.W2"] + P[p + "msg.b2"]
        W = (rbf @ P[p + "msg.Wf"] + P[p + "msg.bf"]) * env
        x = phi[dst] * W
        xs, xvv, xvs = x[:, :F], x[:, F:2 * F], x[:, 2 * F:]
        s = s + torch.zeros(N, F).index_add(0, src, xs)
        dv = v[dst] * xvv[:, None, :] + (r / d)[:, :, None] * xvs[:, None, :]
        v = v + torch.zeros(N, 3, F).index_add(0, src, dv)
        Uv = torch.einsum("nif,fg->nig", v, P[p + "upd.U"])
        Vv = torch.einsum("nif,fg->nig", v, P[p + "upd.V"])
        nrm = torch.sqrt((Vv * Vv).sum(1) + h["eps"])
        a = silu(torch.cat([s, nrm], 1) @ P[p + "upd.A1"] + P[p + "upd.c1"]) @ P[p + "upd.A2"] \
            + P[p + "upd.c2"]
        avv, asv, ass = a[:, :F], a[:, F:2 * F], a[:, 2 * F:]
        v = v + avv[:, None, :] * Uv
        s = s + asv * (Uv * Vv).sum(1) + ass
        acc = block_readout(h, P, head, t, s, acc)
    return readout(P, head, s, species, seg, B, acc)


def schnet(h, P, head, R, species, seg, B, src, dst, shift, rc):
    N, F = R.shape[0], h["F"]
    r, d, rbf, env = geometry(h, R, src, dst, shift, rc)
    s = P["embedding"][species]
    acc = torch.zeros(N, 1)
    for t in range(h["T"]):
        p = prefix(h, t, head) + "."
        W = (silu(rbf @ P[p + "filt.W1"] + P[p + "filt.b1"]) @ P[p + "filt.W2"]
             + P[p + "filt.b2"]) * env
        x = s @ P[p + "in.W"]
        m = torch.zeros(N, F).index_add(0, src, x[dst] * W)
        s = s + silu(m @ P[p + "out.W1"] + P[p + "out.b1"]) @ P[p + "out.W2"] + P[p + "out.b2"]
        acc = block_readout(h, P, head, t, s, acc)
    return readout(P, head, s, species, seg, B, acc)


def compare(tmp, arch_name, every):
    d = {f[:-4]: np.loadtxt(os.path.join(tmp, f), ndmin=1)
         for f in os.listdir(tmp) if f.endswith(".txt")}
    h, z, stats, tensors = read_model(os.path.join(tmp, "model.bin"))
    check.check(h["arch"] == arch_name and h["every"] == every,
                "%s: architecture and readout in the file" % arch_name)
    if every:
        check.check(any(nm == "blocks.0.readout.W1" for nm, _, _, _ in tensors),
                    "%s readout every: block 0 has its own readout" % arch_name)
        arch_name += " (readout every)"
    check.check(h["units"] == "energy=eV length=Angstrom forces=eV/Angstrom", "units")
    rc, we, wf, B = d["consts"][0], d["consts"][1], d["consts"][2], int(d["consts"][3])
    n = d["n"].astype(int)
    N = int(n.sum())
    R = torch.tensor(d["R"].reshape(N, 3), requires_grad=True)
    numbers = d["z"].astype(int)
    species = torch.tensor([z.index(q) for q in numbers], dtype=torch.long)
    seg = torch.tensor(np.repeat(np.arange(B), n), dtype=torch.long)
    cell = d["cell"].reshape(B, 3, 3)
    pbc = d["pbc"].reshape(B, 3).astype(bool)
    src, dst, shift = edges(d["R"].reshape(N, 3), n, cell, pbc, rc)
    check.check(len(src) > 100, "%s: %d edges" % (arch_name, len(src)))
    P = {name: torch.tensor(a, requires_grad=bool(tr)) for name, _, tr, a in tensors}
    fn = painn if h["arch"] == "painn" else schnet
    Fref = torch.tensor(d["Fref"].reshape(N, 3))
    Eref = torch.tensor(d["Eref"].reshape(B, 1))
    for head in ["main", "prior"]:
        E = fn(h, P, head, R, species, seg, B, src, dst, shift, rc)
        (dEdR,) = torch.autograd.grad(E.sum(), R, create_graph=True)
        F = -dEdR
        loss = we / B * ((E - Eref) ** 2).sum() + wf / (3 * N) * ((F - Fref) ** 2).sum()
        names = [nm for nm, _, tr, _ in tensors if tr]
        grads = torch.autograd.grad(loss, [P[nm] for nm in names], allow_unused=True)
        G = {nm: (g if g is not None else torch.zeros_like(P[nm])) for nm, g in zip(names, grads)}
        what = "%s %s head" % (arch_name, head)
        check.close(d["E_" + head], E.detach().numpy().ravel(), TOL, TOL, what + ": energies")
        check.close(d["F_" + head], F.detach().numpy().ravel(), TOL, TOL, what + ": forces")
        check.close(d["loss_" + head], [loss.item()], TOL, TOL, what + ": force loss")
        off = 0
        cg = d["grad_" + head]
        for nm, _, tr, a in tensors:
            k = a.size
            want = G[nm].numpy().ravel() if tr else np.zeros(k)
            check.close(cg[off:off + k], want, TOL, TOL, what + ": d loss / d " + nm)
            off += k
        check.check(off == cg.size, what + ": gradient covers every parameter")
        check.check(np.abs(F.detach().numpy()).max() > 1e-2, what + ": forces not trivial")
    # float32: mlshift's float32 graph against the same PyTorch model in
    # float32 (default dtype float32 for every tensor it makes). Two float32
    # computations differ by rounding: bars relative to each array's scale.
    torch.set_default_dtype(torch.float32)
    try:
        R32 = torch.tensor(d["R"].reshape(N, 3), dtype=torch.float32, requires_grad=True)
        P32 = {name: torch.tensor(a, dtype=torch.float32, requires_grad=bool(tr))
               for name, _, tr, a in tensors}
        sh32 = shift.float()
        E = fn(h, P32, "main", R32, species, seg, B, src, dst, sh32, rc)
        check.check(E.dtype == torch.float32, "%s float32 twin computes in float32" % arch_name)
        (dEdR,) = torch.autograd.grad(E.sum(), R32, create_graph=True)
        F = -dEdR
        loss = we / B * ((E - Eref.float()) ** 2).sum() + \
            wf / (3 * N) * ((F - Fref.float()) ** 2).sum()
        names = [nm for nm, _, tr, _ in tensors if tr]
        grads = torch.autograd.grad(loss, [P32[nm] for nm in names], allow_unused=True)
        G = {nm: (g if g is not None else torch.zeros_like(P32[nm]))
             for nm, g in zip(names, grads)}
        what = "%s float32 main head" % arch_name
        Ft = F.detach().double().numpy().ravel()
        fs = np.abs(Ft).max()
        check.close(d["E32_main"], E.detach().double().numpy().ravel(), 1e-5, 1e-5,
                    what + ": energies")
        check.close(d["F32_main"], Ft, 1e-5 * fs, 0, what + ": forces (1e-5 of the largest)")
        check.close(d["loss32_main"], [loss.item()], 0, 1e-5, what + ": force loss")
        want = np.concatenate([G[nm].detach().double().numpy().ravel() if tr
                               else np.zeros(a.size) for nm, _, tr, a in tensors])
        gs = np.abs(want).max()
        check.close(d["grad32_main"], want, 1e-5 * gs, 0, what + ": gradient (1e-5 of the largest)")
        worst = np.abs(d["F32_main"] - Ft).max() / fs
        print("%s float32: forces within %.2g of the largest, gradient within %.2g" %
              (arch_name, worst, np.abs(d["grad32_main"] - want).max() / gs))
    finally:
        torch.set_default_dtype(torch.float64)


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
        for every in [0, 1]:
            for arch in ["painn", "schnet"]:
                compare(os.path.join(tmp, arch + ("-every" if every else "")), arch, every)
    check.done()


main()
