"""Two-stage training of AU-GCN, with checkpoints every epoch and exact resume.

Stage ``ae`` trains the ROI auto-encoders and ROI heads with L_ROI = ROI BCE + lambda1 * L1 (eq. 3);
stage ``all`` trains everything with L_au + L_ROI (eq. 9 + eq. 3). Each stage has its own SGD and
step schedule, as the paper restarts from the stage-1 weights. With ``freeze_encoders`` stage 2 trains
only the relation layers and the classifier with L_au, on latents computed once (faces and their flips).

Selection never looks at the test subjects: the reported weights are the last epoch's, or (select: val)
the epoch with the best average F1 on the validation subjects, who are held out of the training part.

Every epoch ends with an atomic checkpoint (weights, optimizer, scheduler, RNG states, history), so a
run killed at any moment resumes from its last finished epoch; the loader's order is a function of
(seed, epoch) and the flips and dropout draw from saved generators, so a resumed run ends with the same
weights, bit for bit on the CPU with the same thread count, as one that was never interrupted.

Started by torchrun, every rank runs this loop on its share of each global batch with the model wrapped
in DistributedDataParallel, and rank 0 alone validates and writes (see :mod:`augcn_pyg.engine.distributed`).
"""
from __future__ import annotations

import inspect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path, write_json_atomic, write_text_atomic
from augcn_pyg.core.metrics import AUScores
from augcn_pyg.data.dataset import AUROIDataset
from augcn_pyg.data.loader import FaceGraphLoader, FlipROIs
from augcn_pyg.data.rows import StoreRows
from augcn_pyg.data.splits import PAPER_POSITIVES, paper_sample, run_splits
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint, save_checkpoint
from augcn_pyg.engine.config import RunConfig, config_from_dict, load_config
from augcn_pyg.engine.curves import plot_curves
from augcn_pyg.engine.distributed import Distributed, resolve_device, shard
from augcn_pyg.engine.latent_memo import remembered
from augcn_pyg.engine.model_card import write_model_card
from augcn_pyg.engine.models import build_model, check_model_fits_store, load_model, model_document, open_store
from augcn_pyg.engine.objective import BatchLosses, Objective
from augcn_pyg.engine.scoring import (
    encode_rows,
    predict_latents,
    predict_latents_both,
    predict_rows,
    predict_rows_both,
    score,
    score_intensity,
    write_intensity_table,
    write_table,
)
from augcn_pyg.engine.training_log import TensorBoardLog, clear_log, summary_writer_class
from augcn_pyg.graph.relations import RelationBuilder
from augcn_pyg.nn.losses import (
    au_weights,
    local_sums,
)


@dataclass
class Stage:
    name: str  # "ae" or "all"
    epochs: int


#: the parameters that stage 1 trains and ``train.init`` copies from another run
STAGE1_PARTS = ("autoencoders.", "roi_head_")


def stages(cfg: RunConfig) -> list[Stage]:
    return [s for s in (Stage("ae", cfg.train.epochs_ae), Stage("all", cfg.train.epochs)) if s.epochs > 0]


def fit_graph(cfg: RunConfig, protocol, labels):
    g = cfg.graph
    kwargs = dict(measure=g.measure, symmetrize=g.symmetrize, rules=g.rules, negative_threshold=g.negative_threshold)
    if g.threshold is not None:
        kwargs["threshold"] = g.threshold
    if not cfg.model.global_node:
        kwargs["rules"] = [r for r in g.rules if r != "global"]
    return RelationBuilder(protocol, **kwargs).fit(labels, source="training subjects").graph_


class Trainer:
    """One run: ``Trainer(cfg, run_dir).run()``; ``resume=True`` carries on from the last checkpoint.

    The steps of :meth:`run` (``setup``, ``start``, ``optimizer``, ``fill_cache``, ``step_module``, ``batches``,
    ``validate``, ``write_history``, ``finish``) are public: a batch of frozen runs
    (:mod:`augcn_pyg.engine.members`) drives them for each of its members, so a member is the run alone."""

    def __init__(self, cfg: RunConfig | None, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
                 quiet: bool = False, echo: Callable[[str], None] = print,
                 on_epoch: Callable[["Trainer", dict], None] | None = None, dist: Distributed | None = None):
        self.run_dir = Path(run_dir)
        self.dist = dist = dist or Distributed()
        self.quiet, self.echo = quiet or not dist.is_main, echo
        self.on_epoch = on_epoch  # called after every finished epoch with (trainer, history row); never selects
        # rank 0 alone checks (and with --overwrite clears) the folder; the others then read what it found
        existing = runs.prepare_run_folder(self.run_dir, resume, overwrite) if dist.is_main else None
        dist.barrier()
        if not dist.is_main and resume:
            existing = runs.read_run_json(self.run_dir)
        self.resuming = existing is not None
        self.total = dist.total if dist.enabled else local_sums  # how batch sums become global-batch sums
        if cfg is not None and cfg.data.store and not Path(cfg.data.store).is_absolute():
            cfg.data.store = str(Path(cfg.data.store).resolve())  # the run must find its store from anywhere
        if self.resuming:
            saved = load_config(self.run_dir / runs.CONFIG)
            if cfg is not None and cfg.to_dict() != saved.to_dict():
                diff = _config_diff(saved.to_dict(), cfg.to_dict())
                raise InputError(f"{self.run_dir} was started with another config ({diff}); resume it with the "
                                 f"same options, or use --overwrite")
            if cfg is not None:  # an output-only key (config.OUTPUT_ONLY) is this call's choice, not the run's
                saved.train.tensorboard = cfg.train.tensorboard
            cfg = saved
        if cfg is None:
            raise InputError("no config given")
        self.cfg = cfg
        self.run_json = existing or {}
        if cfg.train.tensorboard and dist.is_main:
            summary_writer_class()  # a missing extra is one clear error before any work
        self.tensorboard: TensorBoardLog | None = None  # rank 0's training log, when train.tensorboard

    # --- set-up ------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg, t, dist = self.cfg, self.cfg.train, self.dist
        if t.threads:
            torch.set_num_threads(t.threads)
        elif dist.enabled:  # N processes on one machine share its cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.local_world_size))
        self.device = resolve_device(t.device)
        if dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", dist.local_rank)
        self.store = store = open_store(cfg.data.store)
        if self.resuming and self.run_json.get("store", {}).get("store_json_sha256") != runs.store_identity(store)["store_json_sha256"]:
            raise InputError(f"the store {store.path} is not the one {self.run_dir} was started on")
        self.protocol = store.protocol
        self.splits = run_splits(store, cfg.data.fold, cfg.data.val_fraction, val_seed=0,
                                 fold_seed=cfg.data.fold_seed, train_subjects=cfg.data.train_subjects)
        train_rows = self.splits.train_rows
        if cfg.data.sampling == "paper":
            p = cfg.data.paper_positives or PAPER_POSITIVES.get(self.protocol.name, 100)
            train_rows = paper_sample(store, train_rows, p, seed=t.seed)
        self.train_rows = train_rows
        if len(train_rows) < 1 or len(self.splits.val_rows) < 1:
            raise InputError(f"{store.path}: no faces left to train or validate on in fold {cfg.data.fold}")
        if dist.world_size > min(len(train_rows), t.batch_size):
            raise InputError(f"{dist.world_size} processes cannot share batches of {t.batch_size} faces from "
                             f"{len(train_rows)} training faces: each process needs at least one face of every "
                             f"batch (use fewer processes or a larger batch)")
        last = len(train_rows) % t.batch_size
        if 0 < last < dist.world_size:  # a process would get an empty share of the last batch
            raise InputError(f"the last batch of {len(train_rows)} training faces in batches of {t.batch_size} has "
                             f"{last} faces, fewer than the {dist.world_size} processes; choose another batch size")
        # (N, C) 0–5 intensities of the whole store, NaN unknown: the intensity head's targets (None: presence)
        self.intensities = None
        if cfg.model.task in ("intensity", "both"):  # another name: the model refuses it, listing the tasks
            if not store.has_intensity:
                raise InputError(f"{store.path}: task {cfg.model.task!r} needs intensities and this store has none "
                                 f"(prepare DISFA, BP4D with its FERA 2015 AU_INT folder, or SynthAU)")
            self.intensities = torch.from_numpy(np.array(store.intensities, dtype=np.float32))
        labels = np.asarray(store.labels[train_rows])
        self.graph = fit_graph(cfg, self.protocol, labels)
        self.weights = torch.from_numpy(au_weights(labels, self.protocol.aus)).to(self.device)
        torch.manual_seed(t.seed)
        self.model = build_model(cfg, self.protocol, self.graph, store.roi_size).to(self.device)
        if t.init:
            self._init_stage1(t.init)
        self.objective = Objective(self.model, cfg.loss, cfg.model.task, self.weights, self.total)
        dataset = AUROIDataset(store, self.graph, split=self.splits.train_subjects)
        dataset.indices = train_rows  # the (possibly sampled) training rows
        self.flip = FlipROIs(self.protocol, p=t.flip_p, seed=t.seed + 1) if t.flip else None
        self.loader = FaceGraphLoader(dataset, batch_size=t.batch_size, shuffle=True, seed=t.seed,
                                      transform=self.flip)

    def _init_stage1(self, source: str) -> None:
        """Copy the auto-encoders and ROI heads of another run (e.g. one stage-1 model shared by many layers)."""
        model, doc = load_model(source)
        check_model_fits_store(doc, self.store, source)
        state = {k: v for k, v in model.state_dict().items() if k.startswith(STAGE1_PARTS)}  # each (R, ...)
        theirs, mine_rois = model.keep.tolist(), self.model.keep.tolist()
        if theirs != mine_rois:  # e.g. a stage-1 model with the global node starts one without it
            if not set(mine_rois) <= set(theirs):
                raise InputError(f"{source}: its stage-1 model lacks ROIs this model uses")
            rows = torch.tensor([theirs.index(r) for r in mine_rois])
            state = {k: v[rows] for k, v in state.items()}
        mine = self.model.state_dict()
        misfit = [k for k, v in state.items() if k not in mine or mine[k].shape != v.shape]
        if misfit:
            raise InputError(f"{source}: its stage-1 weights do not fit this model ({', '.join(misfit[:3])}); "
                             f"the latent size or strip layout differ")
        self.model.load_state_dict(state, strict=False)

    def write_run_json(self, status: str, **extra) -> None:
        if not self.dist.is_main:
            return
        doc = {**self.run_json, **extra, "format": runs.FORMAT, "status": status}
        write_json_atomic(self.run_dir / runs.RUN_JSON, doc)
        self.run_json = doc

    def start(self) -> None:
        cfg = self.cfg
        if not self.dist.is_main:
            return
        runs.make_run_folder(self.run_dir)
        clear_log(self.run_dir)  # a training log of an earlier run here (--overwrite) must not mix with this one's
        write_text_atomic(self.run_dir / runs.CONFIG, cfg.to_yaml())
        self.graph.save(self.run_dir / runs.GRAPH)
        self.run_json = {
            "format": runs.FORMAT, "versions": runs.versions(), **runs.provenance(cfg.to_dict()),
            "init": runs.init_provenance(cfg.train.init) if cfg.train.init else None,
            "seed": cfg.train.seed, "threads": torch.get_num_threads(), "device": str(self.device),
            "distributed": self.dist.to_dict(),
            "store": runs.store_identity(self.store), "splits": self.splits.to_dict(),
            "train_faces_used": int(len(self.train_rows)),
            "parameters": self.model.parameter_counts(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self.write_run_json("running")

    # --- optimisation ------------------------------------------------------------------------------
    def _parameters(self, stage: str):
        m = self.model
        if stage == "ae":
            return list(m.autoencoders.parameters()) + [m.roi_head_weight, m.roi_head_bias]
        if self.cfg.train.freeze_encoders:
            return m.head_parameters()  # relation layers (with their norms and skips) and classifier
        return list(m.parameters())

    def optimizer(self, stage: str):
        t = self.cfg.train
        opt = torch.optim.SGD(self._parameters(stage), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
        # lr_step 0: no decay (the same scheduler, a factor of 1, so checkpoints keep one layout)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t.lr_step or 1, gamma=t.lr_gamma if t.lr_step else 1.0)
        return opt, sched

    def step_module(self, stage: str) -> nn.Module:
        """The module whose forward gives a batch's losses, wrapped in DistributedDataParallel when distributed."""
        trained = {id(p) for p in self._parameters(stage)}
        for p in self.model.parameters():  # DDP reduces the gradients of what this stage trains, nothing else
            p.requires_grad_(id(p) in trained)
        step = BatchLosses(self.objective, stage, frozen=self.cache is not None)
        if not self.dist.enabled:
            return step


        # the buffers (ROI indices, topology) are constants: no need to send them every step
        quiet_buffers = ({"forward_sync_buffers": False} if "forward_sync_buffers" in
                         inspect.signature(DistributedDataParallel).parameters else {"broadcast_buffers": False})
        return DistributedDataParallel(step, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                       **quiet_buffers)

    def _with_intensity(self, rows, y, known):
        """(B, C) labels and known-mask -> (B, 2C): the store ``rows``' intensities appended (NaN -> unknown)
        when the model has an intensity head; unchanged otherwise."""
        if self.intensities is None:
            return y, known
        it = self.intensities[torch.as_tensor(np.asarray(rows), dtype=torch.long)].to(y.device)  # (B, C)
        it_known = ~torch.isnan(it)
        return torch.cat([y, torch.nan_to_num(it)], 1), torch.cat([known, it_known], 1)

    def batches(self, epoch: int):
        """(crops or latents, y, known, global batch size) per batch of ``epoch``: this process's share of
        each global batch, with the flips and dropout drawn for the global batch (see distributed.py)."""
        dist = self.dist
        positions = self.loader.batch_positions(epoch)
        for pos in tqdm(positions, total=len(positions), leave=False, disable=self.quiet, unit="batch"):
            offset, count = shard(len(pos), dist.world_size, dist.rank)
            mine = pos[offset:offset + count]
            self.model.dropout.share = (offset, len(pos))
            if self.flip is not None:
                self.flip.share = (offset, len(pos))
            if self.cache is None:  # the rows and flips the loader's Batch would hold, read by the encoders
                rows = self.loader.dataset.indices[mine]  # (count,) store rows
                flipped = self.flip.draw(count).numpy() if self.flip is not None else None  # (count,) bool
                y, known = self._with_intensity(rows, *self.loader.dataset.labels_and_mask(rows))
                yield StoreRows(self.store, rows, flipped), y.to(self.device), known.to(self.device), len(pos)
                continue
            latents, y, known = self.cache
            pos_t = torch.from_numpy(mine).to(self.device)
            rows = pos_t
            if self.flip is not None:  # the flipped copy of face i is row M + i
                rows = pos_t + self.flip.draw(count).to(self.device).long() * len(y)
            yield latents.index_select(0, rows), y[pos_t], known[pos_t], len(pos)
        self.model.dropout.share = None
        if self.flip is not None:
            self.flip.share = None

    def fill_cache(self) -> None:
        """Stage-2 latents with frozen encoders: the training faces, their flips, and the validation faces."""
        rows, dist = self.loader.dataset.indices, self.dist
        t0 = time.perf_counter()
        offset, count = shard(len(rows), dist.world_size, dist.rank)  # each process encodes a share, then all
        mine = rows[offset:offset + count]
        # with flips, one table of both: a batch is then one gather, flipped faces at rows M + i (2M, R, d0)
        if not self.flip:
            latents = dist.gather_rows(self.frozen_latents(mine), len(rows))  # (M, R, d0)
        elif dist.enabled:  # each process encodes its share of both halves
            latents = torch.cat([dist.gather_rows(self.frozen_latents(mine), len(rows)),
                                 dist.gather_rows(self.frozen_latents(mine, flip=True), len(rows))])
        else:  # the table alone is remembered (not also its halves): a batch's members share one copy of it
            latents = remembered(self.model, self.store, rows, self.device, "both", lambda: torch.cat([
                encode_rows(self.model, self.store, rows, self.device),
                encode_rows(self.model, self.store, rows, self.device, flip=self.flip)]))
        y, known = self._with_intensity(rows, *self.loader.dataset.labels_and_mask(rows))
        self.cache = (latents, y.to(self.device), known.to(self.device))
        # rank 0 alone validates
        self.val_latents = self.frozen_latents(self.splits.val_rows) if dist.is_main else None
        self.echo_line(f"cached stage-2 latents of {len(rows)} training and {len(self.splits.val_rows)} validation "
                       f"faces in {time.perf_counter() - t0:.1f} s")

    def frozen_latents(self, rows: np.ndarray, flip: bool = False) -> torch.Tensor:
        """(M, R, d0) latents of store ``rows`` under the frozen encoders, remembered within the process
        (every layer trained on one shared stage-1 model encodes the same faces)."""
        return remembered(self.model, self.store, rows, self.device, flip,
                          lambda: encode_rows(self.model, self.store, rows, self.device, flip=self.flip if flip else None))

    def echo_line(self, text: str) -> None:
        if not self.quiet:
            self.echo(text)

    def validate(self) -> AUScores:
        rows = self.splits.val_rows
        if self.cache is not None:
            probs = predict_latents(self.model, self.val_latents)
        else:
            probs = predict_rows(self.model, self.store, rows, self.device)
        return score(self.store, rows, probs)

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> dict:
        if self.resuming and self.run_json.get("status") == "done":
            self.echo(f"{self.run_dir}: finished already")
            return json.loads((self.run_dir / runs.TEST_METRICS).read_text())
        self.setup()
        plan = stages(self.cfg)
        total = sum(s.epochs for s in plan)
        stage_of = [(s, e) for s in plan for e in range(s.epochs)]
        history: list[dict] = []
        best = {"epoch": None, "val_f1": -1.0}
        start = 0
        resumed_state = None
        if self.resuming and (self.run_dir / runs.CHECKPOINT).exists():
            ckpt = load_checkpoint(self.run_dir / runs.CHECKPOINT)
            self._check_checkpoint(ckpt.doc)
            self.model.load_state_dict(ckpt.model)
            torch.set_rng_state(ckpt.rng["torch"])
            if self.flip is not None:
                self.flip.generator.set_state(ckpt.rng["flip"])
            history, best, start = ckpt.doc["history"], ckpt.doc["best"], int(ckpt.doc["epochs_done"])
            resumed_state = ckpt
            self.write_run_json("running", **runs.resume_provenance(self.run_json))  # another revision may carry it on
            self.echo_line(f"resuming {self.run_dir} after epoch {start} of {total}")
        else:
            self.start()
        if self.cfg.train.tensorboard and self.dist.is_main:
            self.tensorboard = TensorBoardLog(self.run_dir, history)
        self.cache = None
        opt = sched = None
        current = None
        for epoch in range(start, total):
            stage, e = stage_of[epoch]
            if self._patience_ran_out(stage, epoch, best):
                self.echo_line(f"stopping after epoch {epoch}: no better validation F1 in "
                               f"{self.cfg.train.patience} epochs (best: epoch {best['epoch']})")
                break
            if stage.name != current:
                opt, sched = self.optimizer(stage.name)
                if resumed_state is not None and resumed_state.doc["stage"] == stage.name and e > 0:
                    opt.load_state_dict(resumed_state.optimizer_state())
                    sched.load_state_dict(resumed_state.doc["scheduler"])
                resumed_state = None
                current = stage.name
                if stage.name == "all" and self.cfg.train.freeze_encoders:
                    self.fill_cache()
                step = self.step_module(stage.name)
            row = self._epoch(epoch, stage, e, opt, step)
            sched.step()
            if not self.dist.is_main:
                continue  # rank 0 alone validates and writes; every rank holds the same weights and RNG states
            if stage.name == "all":
                val = self.validate()
                row.update(val_f1=val.mean_f1, val_auc=val.mean_auc)
                if self.cfg.train.select == "val" and val.mean_f1 > best["val_f1"]:
                    best = {"epoch": epoch + 1, "val_f1": val.mean_f1}
                    save_checkpoint(self.run_dir / runs.BEST, self.model.state_dict(),
                                    model_document(self.model, self.cfg, self.graph, self.store.roi_size,
                                                   {"epoch": epoch + 1, "selected": "val"}))
            if self.on_epoch is not None:
                self.on_epoch(self, row)
            if self.tensorboard is not None:
                self.tensorboard.write(row, val if stage.name == "all" else None)
            history.append(row)
            self.write_history(history)
            rng = {"torch": torch.get_rng_state()}
            if self.flip is not None:
                rng["flip"] = self.flip.generator.get_state()
            save_checkpoint(self.run_dir / runs.CHECKPOINT, self.model.state_dict(),
                            {"kind": "checkpoint", "epochs_done": epoch + 1, "stage": stage.name, "history": history,
                             "best": best, "scheduler": sched.state_dict(), "config": self.cfg.to_dict(),
                             "graph": self.graph.to_dict(), "protocol": self.protocol.name,
                             "roi_size": self.store.roi_size},
                            optimizer_state=opt.state_dict(), rng=rng)
            self.echo_line(_epoch_line(row, total))
        return self.finish(history, best)

    def _patience_ran_out(self, stage: Stage, epochs_done: int, best: dict) -> bool:
        """Early stopping, decided by rank 0 (which alone validates) for every rank. Checked before each
        epoch, so a run killed after its last epoch stops again when resumed."""
        patience = self.cfg.train.patience
        if not patience or stage.name != "all":
            return False
        out = best["epoch"] is not None and epochs_done - best["epoch"] >= patience
        return bool(self.dist.broadcast_int(int(out)))

    def _epoch(self, epoch: int, stage: Stage, e: int, opt, step: nn.Module) -> dict:
        self.model.train()
        sums: dict[str, float] = {}
        faces = 0
        t0 = time.perf_counter()
        for inputs, y, known, b in self.batches(epoch):
            opt.zero_grad(set_to_none=True)
            losses = step(inputs, y, known)  # the global batch's losses, on every process
            losses["loss"].backward()
            opt.step()
            faces += b
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * b
        row = {"epoch": epoch + 1, "stage": stage.name, "stage_epoch": e + 1, "lr": opt.param_groups[0]["lr"]}
        row.update({k: v / max(faces, 1) for k, v in sums.items()})
        row.update(val_f1=float("nan"), val_auc=float("nan"), seconds=time.perf_counter() - t0, faces=faces)
        return row

    def _check_checkpoint(self, doc: dict) -> None:
        # through config_from_dict: a checkpoint written before a config key existed holds its default
        if doc.get("kind") != "checkpoint" or config_from_dict(doc.get("config") or {}).to_dict() != self.cfg.to_dict():
            raise InputError(f"{self.run_dir / runs.CHECKPOINT} does not belong to this run's config; use --overwrite")
        if doc.get("protocol") != self.protocol.name or int(doc.get("roi_size", -1)) != self.store.roi_size:
            raise InputError(f"{self.run_dir / runs.CHECKPOINT} is for {doc.get('protocol')} faces with "
                             f"{doc.get('roi_size')}-pixel ROIs, the store holds {self.protocol.name} with "
                             f"{self.store.roi_size}")

    def write_history(self, history: list[dict]) -> None:
        import pandas as pd


        with atomic_path(self.run_dir / runs.EPOCHS) as tmp:
            pd.DataFrame(history).to_csv(tmp, index=False)

    def finish(self, history: list[dict], best: dict) -> dict:
        for p in self.model.parameters():
            p.requires_grad_(True)
        if not self.dist.is_main:
            self.dist.barrier()  # rank 0 scores the test part and writes; the others read its result
            return json.loads((self.run_dir / runs.TEST_METRICS).read_text())
        if self.tensorboard is not None:
            self.tensorboard.close()
        selected = "last"
        if self.cfg.train.select == "val" and best["epoch"] is not None:
            ckpt = load_checkpoint(self.run_dir / runs.BEST)
            self.model.load_state_dict(ckpt.model)
            selected = "val"
        epoch = best["epoch"] if selected == "val" else len(history)
        save_checkpoint(self.run_dir / runs.MODEL, self.model.state_dict(),
                        model_document(self.model, self.cfg, self.graph, self.store.roi_size,
                                       {"epoch": epoch, "selected": selected}))
        if self.cfg.train.freeze_encoders:  # the test faces' latents, shared by every run on one stage-1 model
            probs, inten = predict_latents_both(self.model, self.frozen_latents(self.splits.test_rows))
        else:
            probs, inten = predict_rows_both(self.model, self.store, self.splits.test_rows, self.device)
        test = score(self.store, self.splits.test_rows, probs)
        test_intensity = score_intensity(self.store, self.splits.test_rows, inten)
        metrics = {"fold": self.cfg.data.fold, "seed": self.cfg.train.seed, "layer": self.cfg.model.layer,
                   "selected": selected, "epoch": epoch, "test": test.to_dict(),
                   "val_f1_at_selected": next((r["val_f1"] for r in history if r["epoch"] == epoch), None),
                   "epochs_run": len(history),
                   "train_seconds": float(sum(r["seconds"] for r in history))}
        if test_intensity is not None:  # ICC(3,1), MAE, r per AU (core/intensity.py)
            metrics["test_intensity"] = test_intensity.to_dict()
            write_intensity_table(self.run_dir / runs.TEST_INTENSITY_TABLE, test_intensity)
        write_json_atomic(self.run_dir / runs.TEST_METRICS, metrics)
        write_table(self.run_dir / runs.TEST_TABLE, test)
        try:
            plot_curves(history, self.run_dir / runs.CURVES)
        except ImportError:  # matplotlib is a core dependency; keep the run's results even without it
            pass
        write_model_card(self.run_dir)
        self.write_run_json("done", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.dist.barrier()
        return metrics


def _epoch_line(row: dict, total: int) -> str:
    parts = [f"epoch {row['epoch']}/{total} [{row['stage']}]", f"loss {row['loss']:.4f}"]
    for key in ("recon", "roi", "au"):
        if key in row:
            parts.append(f"{key} {row[key]:.4f}")
    if not np.isnan(row["val_f1"]):
        parts.append(f"val F1 {row['val_f1']:.3f} AUC {row['val_auc']:.3f}")
    parts.append(f"{row['faces'] / max(row['seconds'], 1e-9):.0f} faces/s")
    return " · ".join(parts)


def _config_diff(a: dict, b: dict, prefix: str = "") -> str:
    out = []
    for key in a:
        if isinstance(a[key], dict) and isinstance(b.get(key), dict) and key in ("data", "graph", "model", "loss", "train"):
            inner = _config_diff(a[key], b[key], f"{key}.")
            if inner:
                out.append(inner)
        elif a[key] != b.get(key):
            out.append(f"{prefix}{key}: {a[key]!r} then, {b.get(key)!r} now")
    return "; ".join(out)


def train(cfg: RunConfig | None, run_dir, resume: bool = False, overwrite: bool = False, quiet: bool = False,
          echo: Callable[[str], None] = print, on_epoch=None) -> dict:
    """Train one run into ``run_dir``; returns its test metrics (see :class:`Trainer`)."""
    return Trainer(cfg, run_dir, resume=resume, overwrite=overwrite, quiet=quiet, echo=echo, on_epoch=on_epoch).run()
