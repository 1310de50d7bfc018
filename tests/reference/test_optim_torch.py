# SPDX-License-Identifier: MIT
"""The optimisers of src/train/optim.c against torch.optim on float64.

The same 50 random gradient vectors (several parameter tensors, P = 286, a
seeded numpy generator) go through torch.optim.{SGD, Adam, AdamW} (with and
without amsgrad, with and without clip_grad_norm_) and through ms_optim_step,
called with ctypes from BUILD/tests/libmlshift_optim.so (BUILD = the
directory of $MLSHIFT_BIN; libmlshift.so exports only the public API). Final weights agree to 1e-12 relative; so do the clipping
norms, a run with a frozen tensor (torch: left out of the optimiser; C: mask
0), a run whose lr follows ReduceLROnPlateau, the EMA (OCP formula on torch's
weights) and the plateau scheduler's lr sequence (exactly).

torch (Debian python3-torch) is a required reference: without it the test
fails. In the sanitizer build the library needs the ASan runtime and cannot
be loaded into python: the test declares itself skipped there."""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402

BUILD = os.path.dirname(check.MLSHIFT)
if "san" in os.path.basename(BUILD):
    check.skip("not applicable to the sanitizer build: %s/libmlshift.so needs the ASan "
               "runtime and cannot be loaded into python" % BUILD)

try:
    import torch
except ImportError:
    check.check(False, "torch (Debian python3-torch) is required for this reference test: "
                "apt-get install python3-torch (scripts/install-deps)")
    check.done()

torch.set_default_dtype(torch.float64)

SGD, ADAM, ADAMW = 0, 1, 2
NAMES = {SGD: "sgd", ADAM: "adam", ADAMW: "adamw"}


class Config(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("lr", ctypes.c_double), ("momentum", ctypes.c_double),
                ("beta1", ctypes.c_double), ("beta2", ctypes.c_double), ("eps", ctypes.c_double),
                ("amsgrad", ctypes.c_int), ("weight_decay", ctypes.c_double),
                ("clip_norm", ctypes.c_double), ("ema_decay", ctypes.c_double)]


DP = ctypes.POINTER(ctypes.c_double)


class Optim(ctypes.Structure):
    _fields_ = [("c", Config), ("P", ctypes.c_size_t), ("t", ctypes.c_uint64), ("state", DP),
                ("m", DP), ("v", DP), ("vmax", DP), ("ema", DP), ("n_state", ctypes.c_size_t)]


class Plateau(ctypes.Structure):
    _fields_ = [("factor", ctypes.c_double), ("patience", ctypes.c_int),
                ("threshold", ctypes.c_double), ("min_lr", ctypes.c_double),
                ("best", ctypes.c_double), ("num_bad", ctypes.c_int)]


class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 1024)]


def load():
    path = os.path.join(BUILD, "tests", "libmlshift_optim.so")
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        check.check(False, "cannot load %s (run make first): %s" % (path, e))
        check.done()
    lib.ms_optim_config_default.argtypes = [ctypes.POINTER(Config), ctypes.c_int]
    lib.ms_optim_init.argtypes = [ctypes.POINTER(Optim), ctypes.POINTER(Config), ctypes.c_size_t,
                                  DP, ctypes.POINTER(Error)]
    lib.ms_optim_init.restype = ctypes.c_int
    lib.ms_optim_free.argtypes = [ctypes.POINTER(Optim)]
    lib.ms_optim_step.argtypes = [ctypes.POINTER(Optim), DP, DP, ctypes.POINTER(ctypes.c_ubyte)]
    lib.ms_optim_step.restype = ctypes.c_double
    lib.ms_optim_set_lr.argtypes = [ctypes.POINTER(Optim), ctypes.c_double]
    lib.ms_plateau_init.argtypes = [ctypes.POINTER(Plateau), ctypes.c_double, ctypes.c_int,
                                    ctypes.c_double]
    lib.ms_plateau_step.argtypes = [ctypes.POINTER(Plateau), ctypes.c_double, ctypes.c_double]
    lib.ms_plateau_step.restype = ctypes.c_double
    return lib


lib = load()

SHAPES = [(7, 5), (13,), (4, 3, 6), (11, 9), (30,), (3, 3)]
SIZES = [int(np.prod(s)) for s in SHAPES]
P = sum(SIZES)
STEPS = 50
rng = np.random.default_rng(20240808)
THETA0 = [rng.standard_normal(s) for s in SHAPES]
# Gradients of varying size, so that clipping is active on some steps only.
SCALES = np.exp(rng.uniform(np.log(0.05), np.log(5.0), STEPS))
GRADS = [[SCALES[k] * rng.standard_normal(s) for s in SHAPES] for k in range(STEPS)]
CLIP = float(np.median([np.sqrt(sum((g ** 2).sum() for g in gs)) for gs in GRADS]))
EMA_DECAY = 0.99
# A noisy, flattening loss curve for the scheduler runs.
METRICS = list(1.0 / (1.0 + 0.2 * np.arange(120)) + 0.02 * rng.standard_normal(120))


def flat(arrays):
    return np.ascontiguousarray(np.concatenate([a.ravel() for a in arrays]), dtype=np.float64)


def ptr(a):
    return a.ctypes.data_as(DP)


def make_config(kind, lr, wd, amsgrad, clip, momentum=0.0, ema=0.0):
    c = Config()
    lib.ms_optim_config_default(ctypes.byref(c), kind)
    c.lr, c.weight_decay, c.amsgrad, c.clip_norm = lr, wd, int(amsgrad), clip
    c.momentum, c.ema_decay = momentum, ema
    return c


def torch_run(kind, lr, wd, amsgrad, clip, momentum, frozen, plateau):
    """torch.optim on the tensors not in `frozen`; returns the final weights
    (flat), the clip norms, the EMA (OCP formula) and the lr sequence."""
    params = [torch.tensor(a.copy(), requires_grad=True) for a in THETA0]
    train = [p for j, p in enumerate(params) if j not in frozen]
    if kind == SGD:
        opt = torch.optim.SGD(train, lr=lr, momentum=momentum, weight_decay=wd)
    elif kind == ADAM:
        opt = torch.optim.Adam(train, lr=lr, weight_decay=wd, amsgrad=amsgrad)
    else:
        opt = torch.optim.AdamW(train, lr=lr, weight_decay=wd, amsgrad=amsgrad)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5,
                                                       patience=2, min_lr=1e-4) \
        if plateau else None
    ema = flat(THETA0)
    norms, lrs = [], []
    for k in range(STEPS):
        for j, p in enumerate(params):
            p.grad = None if j in frozen else torch.tensor(GRADS[k][j].copy())
        if clip > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(train, clip)))
        opt.step()
        n = k + 1
        d = min(EMA_DECAY, (1.0 + n) / (10.0 + n))
        ema = ema - (1.0 - d) * (ema - flat([p.detach().numpy() for p in params]))
        if sched is not None:
            sched.step(METRICS[k])
        lrs.append(opt.param_groups[0]["lr"])
    return flat([p.detach().numpy() for p in params]), norms, ema, lrs


def c_run(kind, lr, wd, amsgrad, clip, momentum, frozen, plateau):
    cfg = make_config(kind, lr, wd, amsgrad, clip, momentum, EMA_DECAY)
    theta = flat(THETA0)
    o, err = Optim(), Error()
    st = lib.ms_optim_init(ctypes.byref(o), ctypes.byref(cfg), P, ptr(theta), ctypes.byref(err))
    if st != 0:
        check.check(False, "ms_optim_init: %s" % err.message.decode())
        return theta, [], theta, []
    mask = np.ascontiguousarray(np.concatenate(
        [np.full(n, 0 if j in frozen else 1, dtype=np.uint8) for j, n in enumerate(SIZES)]))
    pl = Plateau()
    lib.ms_plateau_init(ctypes.byref(pl), 0.5, 2, 1e-4)
    norms, lrs = [], []
    for k in range(STEPS):
        g = flat(GRADS[k])
        norms.append(lib.ms_optim_step(ctypes.byref(o), ptr(theta), ptr(g),
                                       mask.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))))
        if plateau:
            lib.ms_optim_set_lr(ctypes.byref(o), lib.ms_plateau_step(ctypes.byref(pl), METRICS[k],
                                                                     o.c.lr))
        lrs.append(o.c.lr)
    ema = np.ctypeslib.as_array(o.ema, shape=(P,)).copy()
    lib.ms_optim_free(ctypes.byref(o))
    return theta, norms, ema, lrs


def compare(kind, lr, wd, amsgrad, clip, momentum=0.0, frozen=(), plateau=False):
    name = "%s%s wd %g%s%s%s" % (NAMES[kind], " amsgrad" if amsgrad else "", wd,
                                 " clip %.3g" % clip if clip else "",
                                 " frozen %s" % list(frozen) if frozen else "",
                                 " plateau" if plateau else "")
    want, tnorms, tema, tlrs = torch_run(kind, lr, wd, amsgrad, clip, momentum, frozen, plateau)
    got, cnorms, cema, clrs = c_run(kind, lr, wd, amsgrad, clip, momentum, frozen, plateau)
    moved = np.abs(want - flat(THETA0)).max()
    check.check(moved > 1e-3, "%s: torch weights barely moved (%g)" % (name, moved))
    check.close(got, want, 1e-14, 1e-12, "%s: weights after %d steps" % (name, STEPS))
    check.close(cema, tema, 1e-14, 1e-12, "%s: EMA of the weights" % name)
    if clip > 0:
        check.close(cnorms, tnorms, 0, 1e-12, "%s: pre-clip norms" % name)
        active = sum(1 for n in tnorms if clip / (n + 1e-6) < 1)
        check.check(0 < active < STEPS, "%s: clipping active on %d of %d steps" %
                    (name, active, STEPS))
    if frozen:
        flat0 = flat(THETA0)
        off = np.cumsum([0] + SIZES)
        same = all(np.array_equal(got[off[j]:off[j + 1]], flat0[off[j]:off[j + 1]])
                   for j in frozen)
        check.check(same, "%s: frozen tensors bit-identical" % name)
    if plateau:
        check.check(clrs == tlrs, "%s: lr sequence %s, torch %s" % (name, clrs, tlrs))
        check.check(len(set(tlrs)) > 2, "%s: the schedule reduced the lr (%s)" %
                    (name, sorted(set(tlrs))))


for clip in (0.0, CLIP):
    compare(SGD, 1e-2, 1e-3, False, clip, momentum=0.9)
    for ams in (False, True):
        compare(ADAM, 1e-2, 1e-3, ams, clip)
        compare(ADAMW, 1e-2, 1e-2, ams, clip)
# SGD without momentum, a frozen tensor under every optimiser, and a schedule.
compare(SGD, 1e-2, 1e-3, False, CLIP, momentum=0.0)
compare(SGD, 1e-2, 1e-3, False, CLIP, momentum=0.9, frozen=(1, 3))
compare(ADAM, 1e-2, 1e-3, True, CLIP, frozen=(0, 4))
compare(ADAMW, 1e-2, 1e-2, False, CLIP, frozen=(2,))
compare(ADAM, 5e-2, 1e-3, False, CLIP, plateau=True)


def plateau_sequences(factor, patience, min_lr, lr0, metrics):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=factor,
                                                       patience=patience, min_lr=min_lr)
    pl = Plateau()
    lib.ms_plateau_init(ctypes.byref(pl), factor, patience, min_lr)
    want, got, lr = [], [], lr0
    for m in metrics:
        sched.step(m)
        want.append(opt.param_groups[0]["lr"])
        lr = lib.ms_plateau_step(ctypes.byref(pl), m, lr)
        got.append(lr)
    return got, want


# The scheduler alone on a long metric sequence, several settings, exactly.
long_metrics = list(np.repeat(METRICS[::3], 4)) + [0.0] * 10 + [float("nan")] * 5
for factor, patience, min_lr, lr0 in ((0.5, 3, 1e-5, 1e-2), (0.1, 0, 0.0, 1e-3),
                                      (0.8, 5, 1e-3, 1e-2), (0.5, 1, 0.0, 3e-8)):
    got, want = plateau_sequences(factor, patience, min_lr, lr0, long_metrics)
    check.check(got == want, "ReduceLROnPlateau(factor %g, patience %d, min_lr %g) from lr %g: "
                "first difference at step %s" % (factor, patience, min_lr, lr0,
                                                 next((i for i, (a, b) in enumerate(zip(got, want))
                                                       if a != b), None)))
check.done()
