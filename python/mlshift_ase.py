# SPDX-License-Identifier: MIT
"""mlshift for ASE: a Calculator over libmlshift.so through ctypes.

    from mlshift_ase import MLShift, Model
    atoms.calc = MLShift(model="aspirin.model")            # main head
    atoms.calc = MLShift(model="m.model", head="prior", radius=4.0)
    atoms.calc = MLShift(model="m.model", refine="train.stats")   # eq. 4
    atoms.calc = MLShift(prior="emt")        # lj, emt, xtb:gfn2, sgdml:FILE

Energies in eV, forces in eV/Å, stress in eV/Å³ (ASE's units and sign,
Voigt order xx yy zz yz xz xy) for periodic cells; per-atom energies
("energies") of a model. Training and test-time training run on lists of
ASE Atoms:

    m = Model.create(["H", "C", "O"], features=32)
    m.train(frames, mode="plain", epochs=5)      # labels from atoms.calc
    m.ttt(test_frames, prior="sgdml:naph.sgdml", steps=200)
    m.save("adapted.model")

The library is found at $MLSHIFT_LIB, then beside this file
(../build/libmlshift.so), then by the loader (ctypes.util.find_library).
No compiled extension: the C API (include/mlshift.h) is the whole
interface. Needs numpy and ASE (Debian python3-ase)."""
import ctypes as C
import ctypes.util
import math
import os

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

__all__ = ["MLShift", "Model", "Prior", "library", "version"]

# ------------------------------------------------------------- the library

_lib = None


def library():
    """The loaded libmlshift.so (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("MLSHIFT_LIB"),
                  os.path.join(here, "..", "build", "libmlshift.so"),
                  ctypes.util.find_library("mlshift")]
    errors = []
    for path in candidates:
        if not path:
            continue
        try:
            _lib = C.CDLL(path)
            break
        except OSError as exc:
            errors.append("%s: %s" % (path, exc))
    if _lib is None:
        raise OSError("libmlshift.so not found (set MLSHIFT_LIB): " + "; ".join(errors))
    _declare(_lib)
    return _lib


class MLShiftError(RuntimeError):
    """A call of the library failed; the message is the library's."""


class _Error(C.Structure):
    _fields_ = [("status", C.c_int), ("message", C.c_char * 1024)]


class _Frame(C.Structure):
    _fields_ = [("natoms", C.c_size_t), ("flags", C.c_uint),
                ("numbers", C.POINTER(C.c_int)), ("positions", C.POINTER(C.c_double)),
                ("forces", C.POINTER(C.c_double)), ("fixed", C.POINTER(C.c_ubyte)),
                ("cell", C.POINTER(C.c_double)), ("pbc", C.c_int * 3),
                ("energy", C.c_double), ("info", C.c_char_p)]


class _Hyper(C.Structure):
    _fields_ = [("arch", C.c_int), ("features", C.c_int), ("rbf", C.c_int),
                ("blocks", C.c_int), ("rep_blocks", C.c_int), ("ttt_blocks", C.c_int),
                ("cutoff", C.c_double), ("readout_every", C.c_int)]


class _Info(C.Structure):
    _fields_ = [("hyper", _Hyper), ("n_elements", C.c_int),
                ("elements", C.POINTER(C.c_int)), ("n_params", C.c_size_t),
                ("n_tensors", C.c_size_t), ("group_params", C.c_size_t * 4),
                ("group_tensors", C.c_size_t * 4), ("stats_len", C.c_size_t),
                ("record", C.c_char_p)]


class _Optim(C.Structure):
    _fields_ = [("kind", C.c_int), ("lr", C.c_double), ("momentum", C.c_double),
                ("beta1", C.c_double), ("beta2", C.c_double), ("eps", C.c_double),
                ("amsgrad", C.c_int), ("weight_decay", C.c_double),
                ("clip_norm", C.c_double), ("ema_decay", C.c_double)]


class _Parts(C.Structure):
    _fields_ = [("loss", C.c_double), ("head", C.c_double * 2), ("f_mse", C.c_double * 2),
                ("f_mae", C.c_double * 2), ("e_mae", C.c_double * 2)]


class _TrainConfig(C.Structure):
    _fields_ = [("mode", C.c_int), ("opt", _Optim), ("epochs", C.c_int),
                ("batch", C.c_size_t), ("seed", C.c_uint64), ("energy_weight", C.c_double),
                ("force_weight", C.c_double), ("l2mae", C.c_int), ("cutoff", C.c_double),
                ("plateau_patience", C.c_int), ("plateau_factor", C.c_double),
                ("min_lr", C.c_double), ("early_stop", C.c_int),
                ("checkpoint_every", C.c_size_t), ("checkpoint", C.c_char_p),
                ("stop_after", C.c_size_t), ("copy_prior_head", C.c_int),
                ("dtype", C.c_int), ("threads", C.c_int), ("chunk", C.c_size_t),
                ("parallel", C.c_void_p),
                ("progress", C.c_void_p), ("progress_ctx", C.c_void_p)]


def _dtype(name):
    """mlshift_dtype of "float32" / "float64"."""
    if name not in ("float32", "float64"):
        raise ValueError("dtype %r: float32 or float64" % (name,))
    return 1 if name == "float32" else 0


class _TrainReport(C.Structure):
    _fields_ = [("steps", C.c_size_t), ("epochs", C.c_int), ("stopped_early", C.c_int),
                ("interrupted", C.c_int), ("weights", C.c_int), ("have_val", C.c_int),
                ("val", _Parts), ("underdetermined", C.c_int * 2), ("seconds", C.c_double)]


class _TTTConfig(C.Structure):
    _fields_ = [("opt", _Optim), ("steps", C.c_size_t), ("batch", C.c_size_t),
                ("seed", C.c_uint64), ("energy_weight", C.c_double),
                ("force_weight", C.c_double), ("l2mae", C.c_int), ("cutoff", C.c_double),
                ("patience", C.c_size_t), ("target_f_mse", C.c_double),
                ("eval_every", C.c_size_t), ("eval_frames", C.c_size_t),
                ("dtype", C.c_int), ("threads", C.c_int), ("chunk", C.c_size_t),
                ("progress", C.c_void_p), ("progress_ctx", C.c_void_p)]


class _TTTReport(C.Structure):
    _fields_ = [("steps", C.c_size_t), ("stop_reason", C.c_int),
                ("prior_before", C.c_double), ("prior_after", C.c_double),
                ("prior_f_mae_before", C.c_double), ("prior_f_mae_after", C.c_double),
                ("have_main", C.c_int), ("main_f_mae_before", C.c_double),
                ("main_f_mae_after", C.c_double), ("main_e_mae_before", C.c_double),
                ("main_e_mae_after", C.c_double), ("seconds", C.c_double)]


_P = C.c_void_p
_D = C.POINTER(C.c_double)
_E = C.POINTER(_Error)


def _declare(lib):
    sig = {
        "mlshift_version": (C.c_char_p, []),
        "mlshift_prior_create": (C.c_int, [C.c_char_p, C.POINTER(_P), _E]),
        "mlshift_prior_destroy": (None, [_P]),
        "mlshift_model_load": (C.c_int, [C.c_char_p, C.POINTER(_P), _E]),
        "mlshift_model_destroy": (None, [_P]),
        "mlshift_model_save": (C.c_int, [_P, C.c_char_p, _E]),
        "mlshift_model_clone": (C.c_int, [_P, C.POINTER(_P), _E]),
        "mlshift_model_hyper_default": (None, [C.POINTER(_Hyper), C.c_int]),
        "mlshift_model_create": (C.c_int, [C.POINTER(_Hyper), C.POINTER(C.c_int), C.c_int,
                                           C.c_uint64, C.POINTER(_P), _E]),
        "mlshift_model_get_info": (None, [_P, C.POINTER(_Info)]),
        "mlshift_model_set_record": (C.c_int, [_P, C.c_char_p, _E]),
        "mlshift_model_record_number": (C.c_double, [_P, C.c_char_p]),
        "mlshift_calc_from_prior": (C.c_int, [_P, C.POINTER(_P), _E]),
        "mlshift_calc_from_model": (C.c_int, [_P, C.c_int, C.c_double, C.POINTER(_P), _E]),
        "mlshift_calc_destroy": (None, [_P]),
        "mlshift_calc_set_cutoff": (C.c_int, [_P, C.c_double, _E]),
        "mlshift_calc_set_refinement": (C.c_int, [_P, _P, _D, C.c_size_t, _E]),
        "mlshift_calc_last_cutoff": (C.c_double, [_P]),
        "mlshift_calc_caps": (C.c_uint, [_P]),
        "mlshift_calc_compute": (C.c_int, [_P, C.POINTER(_Frame), _D, _D, _D, _D, _E]),
        "mlshift_frames_create": (_P, []),
        "mlshift_frames_destroy": (None, [_P]),
        "mlshift_frames_append": (C.c_int, [_P, C.POINTER(_Frame), C.c_char_p, _E]),
        "mlshift_dataset_create": (C.c_int, [_P, _P, C.c_size_t, C.POINTER(_P), _E]),
        "mlshift_dataset_destroy": (None, [_P]),
        "mlshift_dataset_labels": (C.c_uint, [_P, C.c_int]),
        "mlshift_dataset_prior_labels": (C.c_int, [_P, _P, C.c_char_p, C.POINTER(C.c_int),
                                                   C.POINTER(C.c_int), _P, _P, _E]),
        "mlshift_train_config_default": (None, [C.POINTER(_TrainConfig), C.c_int]),
        "mlshift_train_mode_parse": (C.c_int, [C.c_char_p]),
        "mlshift_optimizer_parse": (C.c_int, [C.c_char_p]),
        "mlshift_optim_config_default": (None, [C.POINTER(_Optim), C.c_int]),
        "mlshift_train": (C.c_int, [_P, _P, _P, C.POINTER(_TrainConfig), C.c_char_p,
                                    C.POINTER(_TrainReport), _E]),
        "mlshift_ttt_config_preset": (C.c_int, [C.POINTER(_TTTConfig), C.c_char_p, _E]),
        "mlshift_ttt": (C.c_int, [_P, _P, C.POINTER(_TTTConfig), C.POINTER(_TTTReport), _E]),
        "mlshift_stats_read": (C.c_int, [C.c_char_p, C.POINTER(_P), _E]),
        "mlshift_stats_destroy": (None, [_P]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def _check(status, err):
    if status != 0:
        raise MLShiftError(err.message.decode("utf-8", "replace"))


def version():
    """The running library's version."""
    return library().mlshift_version().decode()


def _dptr(a):
    return a.ctypes.data_as(_D)


class _FrameView:
    """A mlshift_frame over an Atoms' arrays (kept alive with it)."""

    def __init__(self, atoms, energy=None, forces=None):
        self.numbers = np.ascontiguousarray(atoms.get_atomic_numbers(), dtype=np.intc)
        self.positions = np.ascontiguousarray(atoms.get_positions(), dtype=float)
        f = _Frame()
        f.natoms = len(atoms)
        f.numbers = self.numbers.ctypes.data_as(C.POINTER(C.c_int))
        f.positions = _dptr(self.positions)
        f.energy = math.nan
        pbc = atoms.get_pbc()
        cell = np.asarray(atoms.get_cell())
        if np.any(cell != 0):
            # rows a, b, c, as mlshift and ASE both store them
            self.cell = np.ascontiguousarray(cell, dtype=float)
            f.cell = _dptr(self.cell)
            f.flags |= 4                    # MLSHIFT_HAS_CELL
            for k in range(3):
                f.pbc[k] = int(bool(pbc[k]))
        if energy is not None:
            f.energy = float(energy)
            f.flags |= 1                    # MLSHIFT_HAS_ENERGY
        if forces is not None:
            self.forces = np.ascontiguousarray(forces, dtype=float)
            f.forces = _dptr(self.forces)
            f.flags |= 2                    # MLSHIFT_HAS_FORCES
        self.frame = f


# ------------------------------------------------------------------ handles

class Prior:
    """A prior: "lj", "lj:FILE", "emt", "xtb:gfn2|gfn1|gfnff[,charge=Q,uhf=U]",
    "sgdml:MODEL"."""

    def __init__(self, spec):
        lib = library()
        self.spec = spec
        self._p = _P()
        err = _Error()
        _check(lib.mlshift_prior_create(spec.encode(), C.byref(self._p), C.byref(err)), err)

    def __del__(self):
        if getattr(self, "_p", None) and _lib is not None:
            _lib.mlshift_prior_destroy(self._p)
            self._p = None


class _Frames:
    """A mlshift_frames holding copies of Atoms (labels, where given)."""

    def __init__(self, images, labels=True):
        lib = library()
        self._f = lib.mlshift_frames_create()
        if not self._f:
            raise MemoryError("mlshift_frames_create")
        err = _Error()
        for k, atoms in enumerate(images):
            e = f = None
            if labels and atoms.calc is not None and not isinstance(atoms.calc, MLShift):
                res = getattr(atoms.calc, "results", {})
                e = res.get("energy")
                f = res.get("forces")
            v = _FrameView(atoms, e, f)
            _check(lib.mlshift_frames_append(self._f, C.byref(v.frame),
                                             ("atoms %d" % k).encode(), C.byref(err)), err)
        self.n = len(images)

    def __del__(self):
        if getattr(self, "_f", None) and _lib is not None:
            _lib.mlshift_frames_destroy(self._f)
            self._f = None


class _Dataset:
    def __init__(self, frames):
        lib = library()
        self.frames = frames
        self._d = _P()
        err = _Error()
        _check(lib.mlshift_dataset_create(frames._f, None, frames.n, C.byref(self._d),
                                          C.byref(err)), err)

    def prior_labels(self, prior, cache=None):
        err = _Error()
        _check(library().mlshift_dataset_prior_labels(
            self._d, prior._p, cache.encode() if cache else None, None, None, None, None,
            C.byref(err)), err)

    def __del__(self):
        if getattr(self, "_d", None) and _lib is not None:
            _lib.mlshift_dataset_destroy(self._d)
            self._d = None


def _set_optim(opt, kw):
    """Sets optimiser fields of opt from kw (popping them)."""
    name = kw.pop("optimizer", None)
    if name is not None:
        k = library().mlshift_optimizer_parse(name.encode())
        if k < 0:
            raise ValueError("optimizer %r: sgd, adam or adamw" % name)
        lr, wd = opt.lr, opt.weight_decay
        library().mlshift_optim_config_default(C.byref(opt), k)
        opt.lr, opt.weight_decay = lr, wd
        if k == 0:
            opt.momentum = 0.9
    for key in ("lr", "momentum", "beta1", "beta2", "eps", "amsgrad", "weight_decay",
                "clip_norm", "ema_decay"):
        if key in kw:
            setattr(opt, key, kw.pop(key))


class Model:
    """A PaiNN/SchNet model with a representation and two heads."""

    def __init__(self, path=None, _handle=None):
        lib = library()
        err = _Error()
        if _handle is not None:
            self._m = _handle
        else:
            self._m = _P()
            _check(lib.mlshift_model_load(os.fspath(path).encode(), C.byref(self._m),
                                          C.byref(err)), err)

    @classmethod
    def load(cls, path):
        return cls(path)

    @classmethod
    def create(cls, elements, arch="painn", features=None, rbf=None, blocks=None,
               rep_blocks=None, ttt_blocks=None, cutoff=None, readout_every=None, seed=0):
        """Seeded random weights for elements (symbols or numbers)."""
        from ase.data import atomic_numbers
        lib = library()
        a = {"painn": 0, "schnet": 1}[arch]
        h = _Hyper()
        lib.mlshift_model_hyper_default(C.byref(h), a)
        for key, val in (("features", features), ("rbf", rbf), ("blocks", blocks),
                         ("cutoff", cutoff), ("readout_every", readout_every)):
            if val is not None:
                setattr(h, key, val)
        h.rep_blocks = rep_blocks if rep_blocks is not None else h.blocks - 1
        h.ttt_blocks = ttt_blocks if ttt_blocks is not None else min(1, h.rep_blocks)
        z = [atomic_numbers[e] if isinstance(e, str) else int(e) for e in elements]
        zs = (C.c_int * len(z))(*z)
        m = _P()
        err = _Error()
        _check(lib.mlshift_model_create(C.byref(h), zs, len(z), seed, C.byref(m),
                                        C.byref(err)), err)
        return cls(_handle=m)

    def save(self, path):
        err = _Error()
        _check(library().mlshift_model_save(self._m, os.fspath(path).encode(), C.byref(err)),
               err)

    def copy(self):
        m = _P()
        err = _Error()
        _check(library().mlshift_model_clone(self._m, C.byref(m), C.byref(err)), err)
        return Model(_handle=m)

    def info(self):
        """Architecture, sizes, elements, cutoff and the training record."""
        i = _Info()
        library().mlshift_model_get_info(self._m, C.byref(i))
        groups = ("ttt", "representation", "main", "prior")
        return {"arch": ("painn", "schnet")[i.hyper.arch], "features": i.hyper.features,
                "rbf": i.hyper.rbf, "blocks": i.hyper.blocks,
                "rep_blocks": i.hyper.rep_blocks, "ttt_blocks": i.hyper.ttt_blocks,
                "cutoff": i.hyper.cutoff, "readout_every": i.hyper.readout_every,
                "elements": [i.elements[k] for k in range(i.n_elements)],
                "heads": ["main", "prior"], "parameters": i.n_params,
                "group_parameters": dict(zip(groups, list(i.group_params))),
                "stats_bytes": i.stats_len,
                "record": i.record.decode() if i.record else None}

    def record_number(self, key):
        return library().mlshift_model_record_number(self._m, key.encode())

    def train(self, images, mode="plain", prior=None, val=None, resume=None, **kw):
        """Trains in place on ASE Atoms (reference labels from each
        atoms.calc's results, e.g. as ase.io.read gives them; prior labels
        from `prior`, a spec or a Prior). Keywords: the fields of
        mlshift_train_config (epochs, batch, seed, energy_weight,
        force_weight, l2mae, cutoff, plateau_patience, plateau_factor,
        min_lr, early_stop, checkpoint_every, checkpoint, stop_after,
        copy_prior_head, dtype ("float32" or "float64"), threads, chunk) and
        of the optimiser (optimizer, lr, momentum,
        weight_decay, clip_norm, ema_decay, amsgrad, …). Returns the
        report as a dict."""
        lib = library()
        m = lib.mlshift_train_mode_parse(mode.encode())
        if m < 0:
            raise ValueError("mode %r: pretrain, finetune, joint or plain" % mode)
        c = _TrainConfig()
        lib.mlshift_train_config_default(C.byref(c), m)
        _set_optim(c.opt, kw)
        keep = []
        for key, val_ in list(kw.items()):
            if key == "checkpoint":
                keep.append(os.fspath(val_).encode())
                c.checkpoint = keep[-1]
            elif key == "dtype":
                c.dtype = _dtype(val_)
            elif key in dict(_TrainConfig._fields_) and key not in ("mode", "opt", "progress",
                                                                    "progress_ctx", "parallel"):
                setattr(c, key, val_)
            else:
                raise TypeError("train: unknown keyword %r" % key)
        p = Prior(prior) if isinstance(prior, str) else prior
        tr = _Dataset(_Frames(images))
        va = _Dataset(_Frames(val)) if val else None
        if p is not None:
            tr.prior_labels(p)
            if va is not None:
                va.prior_labels(p)
        rep = _TrainReport()
        err = _Error()
        _check(lib.mlshift_train(self._m, tr._d, va._d if va else None, C.byref(c),
                                 os.fspath(resume).encode() if resume else None,
                                 C.byref(rep), C.byref(err)), err)
        out = {"steps": rep.steps, "epochs": rep.epochs, "stopped_early": bool(rep.stopped_early),
               "weights": ("last", "ema", "best-val")[rep.weights], "seconds": rep.seconds}
        if rep.have_val:
            out["val_loss"] = rep.val.loss
            out["val_force_mae"] = list(rep.val.f_mae)
        return out

    def ttt(self, images, prior, preset="md17", **kw):
        """Test-time training (eq. 7) in place on the prior labels of ASE
        Atoms; `prior` a spec or a Prior. Keywords: steps, batch, seed,
        energy_weight, force_weight, l2mae, cutoff, patience, target_f_mse,
        eval_every, eval_frames, dtype, threads, chunk and the optimiser's.
        Returns the report."""
        lib = library()
        c = _TTTConfig()
        err = _Error()
        _check(lib.mlshift_ttt_config_preset(C.byref(c), preset.encode() if preset else None,
                                             C.byref(err)), err)
        _set_optim(c.opt, kw)
        for key, val_ in kw.items():
            if key == "dtype":
                c.dtype = _dtype(val_)
            elif key in dict(_TTTConfig._fields_) and key not in ("opt", "progress",
                                                                  "progress_ctx"):
                setattr(c, key, val_)
            else:
                raise TypeError("ttt: unknown keyword %r" % key)
        p = Prior(prior) if isinstance(prior, str) else prior
        d = _Dataset(_Frames(images))
        d.prior_labels(p)
        rep = _TTTReport()
        _check(lib.mlshift_ttt(self._m, d._d, C.byref(c), C.byref(rep), C.byref(err)), err)
        out = {"steps": rep.steps,
               "stop": ("all steps", "patience", "reached in-distribution prior loss")
               [rep.stop_reason],
               "prior_loss": (rep.prior_before, rep.prior_after),
               "prior_force_mae": (rep.prior_f_mae_before, rep.prior_f_mae_after),
               "seconds": rep.seconds}
        if rep.have_main:
            out["main_force_mae"] = (rep.main_f_mae_before, rep.main_f_mae_after)
        return out

    def __del__(self):
        if getattr(self, "_m", None) and _lib is not None:
            _lib.mlshift_model_destroy(self._m)
            self._m = None


# --------------------------------------------------------------- calculator

class MLShift(Calculator):
    """An ASE calculator: a model (model=PATH or a Model; head "main" or
    "prior"; radius=R Å fixed, or refine=STATS for test-time radius
    refinement per structure (eq. 4) among radii (default 3..9 Å, 10
    values) and the training cutoff) or a prior (prior=SPEC or a Prior).

    Radius refinement chooses the radius anew for every structure: for MD,
    where the radius must stay fixed, choose it once (calc.get_potential_
    energy(atoms); calc.last_radius) and pass radius= to a new calculator."""

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(self, model=None, prior=None, head="main", radius=None, refine=None,
                 radii=None, **kwargs):
        Calculator.__init__(self, **kwargs)
        if (model is None) == (prior is None):
            raise ValueError("MLShift: give exactly one of model= and prior=")
        lib = library()
        err = _Error()
        self._c = _P()
        self.model = self.prior = None
        if model is not None:
            self.model = model if isinstance(model, Model) else Model(model)
            if head not in ("main", "prior"):
                raise ValueError("head %r: main or prior" % head)
            _check(lib.mlshift_calc_from_model(self.model._m, 0 if head == "main" else 1,
                                               float(radius or 0), C.byref(self._c),
                                               C.byref(err)), err)
            if refine is not None:
                if radius is not None:
                    raise ValueError("MLShift: radius= and refine= exclude each other")
                # an opaque handle; the calculator keeps a copy of it
                st = _P()
                _check(lib.mlshift_stats_read(os.fspath(refine).encode(), C.byref(st),
                                              C.byref(err)), err)
                try:
                    r = np.linspace(3, 9, 10) if radii is None else np.asarray(radii, float)
                    r = np.ascontiguousarray(r)
                    _check(lib.mlshift_calc_set_refinement(self._c, st, _dptr(r), len(r),
                                                           C.byref(err)), err)
                finally:
                    lib.mlshift_stats_destroy(st)
        else:
            self.prior = prior if isinstance(prior, Prior) else Prior(prior)
            _check(lib.mlshift_calc_from_prior(self.prior._p, C.byref(self._c), C.byref(err)),
                   err)
        self._caps = lib.mlshift_calc_caps(self._c)

    def __del__(self):
        if getattr(self, "_c", None) and _lib is not None:
            _lib.mlshift_calc_destroy(self._c)
            self._c = None

    @property
    def last_radius(self):
        """The run-time cutoff of the last calculation, Å (models)."""
        return library().mlshift_calc_last_cutoff(self._c)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        atoms = self.atoms
        v = _FrameView(atoms)
        n = len(atoms)
        e = C.c_double()
        forces = np.zeros((n, 3))
        want_stress = "stress" in properties
        want_energies = "energies" in properties
        if want_stress and not atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all three "
                                              "directions")
        if want_energies and not self._caps & 2:
            raise PropertyNotImplementedError("per-atom energies: a model only")
        virial = np.zeros((3, 3)) if want_stress else None
        energies = np.zeros(n) if want_energies else None
        err = _Error()
        _check(library().mlshift_calc_compute(
            self._c, C.byref(v.frame), C.byref(e), _dptr(forces),
            _dptr(energies) if energies is not None else None,
            _dptr(virial) if virial is not None else None, C.byref(err)), err)
        self.results["energy"] = e.value
        self.results["free_energy"] = e.value
        self.results["forces"] = forces
        if energies is not None:
            self.results["energies"] = energies
        if virial is not None:
            s = -virial / atoms.get_volume()       # σ = −W/V, eV/Å³
            s = 0.5 * (s + s.T)
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2],
                                               s[1, 2], s[0, 2], s[0, 1]])
