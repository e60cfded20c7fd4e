"""Many frozen runs trained side by side in one process: the *members* of a batch.

A frozen run (``train.freeze_encoders`` with ``train.init``: stage 2 trains only the relation head on the
cached latents of a stage-1 model) is tiny, and trained one per process almost all of its time is
overhead: start-up, set-up, encoding the faces, a full-model checkpoint every epoch, and encoding the test
faces again at the end. :class:`MemberBatch` trains K such runs together:

* every member is set up exactly as :class:`~augcn_pyg.engine.trainer.Trainer` sets up a run alone (its
  splits, training rows, fitted graph, AU weights, initial weights drawn from its seed, stage-1 weights from
  its ``init``) and writes the same run folder (config, graph, run.json, epochs.csv, best and final model,
  test metrics and tables, curves, model card); its run.json says it was trained in a batch;
* members of one stage-1 model share its cached latents (:mod:`augcn_pyg.engine.latent_memo`), so a fold's
  faces are encoded once for all of them, and its frozen auto-encoders (one copy in memory, not one each);
* members may differ in anything a frozen run can: layer, design, tuning configuration, fold, fold
  assignment, seed, number of epochs, patience;
* each member keeps its own data order, flips, dropout draws (its own copy of torch's generator state),
  optimizer, schedule, early stopping and selected epoch. Step t of an epoch runs every member's batch t in
  turn, with the same operations a run alone performs, so a member ends with the same weights, bit for bit,
  as its configuration trained alone (tested);
* one checkpoint holds every member (head weights, best head, momentum buffers, schedules, generator
  states, histories) and is written atomically after every epoch: a batch killed at any moment resumes
  from its last finished epoch, and ends as it would have uninterrupted.

What is saved per member is its head (relation layers, norms, skips, classifiers): the auto-encoders are the
stage-1 model's, loaded again from ``init`` on resume. Hooks (``on_epoch``) get the member's trainer and
history row, as ``Trainer``'s do; a hook object with a ``rows`` list has that list saved with the batch
(a recorder resumes with its rows).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint, optimizer_from_flat, optimizer_to_flat, save_checkpoint
from augcn_pyg.engine.config import RunConfig
from augcn_pyg.engine.latent_memo import fingerprint
from augcn_pyg.engine.models import model_document
from augcn_pyg.engine.trainer import Trainer, stages

#: run.json's key that says a run was trained as a member of a batch
BATCH_KEY = "batch"


def batchable(cfg: RunConfig) -> str | None:
    """None when ``cfg`` is a run a batch can train, else why not (a frozen stage 2 from a stage-1 model)."""
    t = cfg.train
    if not t.freeze_encoders:
        return "it trains its encoders (train.freeze_encoders is false)"
    if not t.init:
        return "it has no stage-1 model to start from (train.init)"
    if t.epochs_ae:
        return "it trains a stage 1 (train.epochs_ae > 0)"
    return None


@dataclass
class Member:
    """One run of a batch: its config and its run folder."""
    cfg: RunConfig
    run_dir: Path
    on_epoch: Callable | None = None  # called as Trainer's on_epoch: (trainer, history row)
    on_finish: Callable | None = None  # called with (trainer, test metrics) once the member's folder is complete


def share_autoencoders(model, shared: dict) -> None:
    """Give ``model`` the auto-encoders of an earlier member with the same weights (``shared``, by fingerprint):
    frozen, they are only read (encoding, and the weights a run folder saves), so one copy serves every member
    of a stage-1 model and the member's own copy (~9 MB at the default size) is freed."""
    key = fingerprint(model.autoencoders)
    if key in shared:
        model.autoencoders = shared[key]
    else:
        shared[key] = model.autoencoders


def batch_identity(members: Sequence[Member]) -> str:
    """A digest of the members' run folders and configs: the batch checkpoint's owner."""
    return runs.config_digest({"members": [str(Path(m.run_dir).resolve()) for m in members],
                               "configs": [m.cfg.to_dict() for m in members]})


class _State:
    """A member's training state: its trainer (set up as alone), optimizer, schedule, generator state,
    history, best epoch and best head weights; ``stopped`` once early stopping ended it."""

    def __init__(self, member: Member, trainer: Trainer):
        self.member, self.trainer = member, trainer
        self.rng = torch.get_rng_state()  # torch's generator as the run alone has it after its set-up
        self.opt, self.sched = trainer.optimizer("all")
        self.step = None
        self.history: list[dict] = []
        self.best = {"epoch": None, "val_f1": -1.0}
        self.best_head: dict[str, torch.Tensor] | None = None
        self.stopped = False

    @property
    def model(self):
        return self.trainer.model

    def head_state(self) -> dict[str, torch.Tensor]:
        """The weights this stage trains (the head's parameters and buffers), copied."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items() if k.startswith(HEAD_PARTS)}


#: the state-dict prefixes of the relation head: what a frozen stage 2 trains and a batch checkpoint holds
HEAD_PARTS = ("relation.", "relation_norms.", "relation_skips.", "classifier.", "intensity_head.")


class MemberBatch:
    """Train ``members`` (frozen runs) together; ``checkpoint`` is the batch's checkpoint file (resumed when
    it exists and holds these members, see :func:`batch_identity`)."""

    def __init__(self, members: Sequence[Member], checkpoint: str | Path, quiet: bool = True,
                 echo: Callable[[str], None] = print):
        if not members:
            raise InputError("a batch needs at least one member")
        for m in members:
            why = batchable(m.cfg)
            if why:
                raise InputError(f"{m.run_dir} cannot be trained in a batch: {why}")
        dirs = [str(Path(m.run_dir).resolve()) for m in members]
        if len(set(dirs)) != len(dirs):
            raise InputError("two members of a batch share a run folder")
        self.members, self.checkpoint = list(members), Path(checkpoint)
        self.quiet, self.echo = quiet, echo
        self.identity = batch_identity(members)

    # --- set-up ------------------------------------------------------------------------------------
    def _resumable(self):
        if not self.checkpoint.exists():
            return None
        ckpt = load_checkpoint(self.checkpoint)
        if ckpt.doc.get("kind") != "member-batch" or ckpt.doc.get("identity") != self.identity:
            raise InputError(f"{self.checkpoint} is the checkpoint of another batch; remove it to start again")
        return ckpt

    def _set_up(self, resume) -> list[_State]:
        states = []
        shared: dict[str, torch.nn.Module] = {}  # weight fingerprint -> the first member's frozen auto-encoders
        for m in self.members:
            trainer = Trainer(m.cfg, m.run_dir, resume=resume is not None, overwrite=resume is None, quiet=True,
                              on_epoch=m.on_epoch)
            trainer.setup()
            trainer.cache = None
            share_autoencoders(trainer.model, shared)
            states.append(_State(m, trainer))
        # members of one stage-1 model (and fold) one after another: they share its encodings (latent_memo)
        for s in sorted(states, key=lambda s: (s.trainer.cfg.train.init, s.trainer.cfg.data.fold_seed,
                                               s.trainer.cfg.data.fold)):
            s.trainer.fill_cache()
            s.step = s.trainer.step_module("all")
        return states

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Train every member; returns their test metrics in the members' order."""
        resume = self._resumable()
        states = self._set_up(resume)
        start = 0
        if resume is not None:
            start = self._restore(states, resume)
            for s in states:
                s.trainer.write_run_json("running", **runs.resume_provenance(s.trainer.run_json))
        else:
            for i, s in enumerate(states):
                s.trainer.start()
                s.trainer.write_run_json("running", **{BATCH_KEY: self._batch_doc(i)})
        total = max(stages(m.cfg)[-1].epochs for m in self.members)
        for epoch in range(start, total):
            live = [s for s in states if not self._stopping(s, epoch)]
            if not live:
                break
            t0 = time.perf_counter()
            rows = self._epoch(live, epoch)
            for s, row in zip(live, rows):
                self._end_epoch(s, epoch, row)
            self._save(states, epoch + 1)
            if not self.quiet:
                self.echo(f"epoch {epoch + 1}/{total}: {len(live)} of {len(states)} members trained in "
                          f"{time.perf_counter() - t0:.1f} s")
        metrics = [self._finish(s) for s in states]
        self.checkpoint.unlink(missing_ok=True)  # every member's folder is complete now
        return metrics

    def _stopping(self, s: _State, epoch: int) -> bool:
        """The member's last epoch is done, or early stopping as a run alone decides it (before each epoch)."""
        if epoch >= s.trainer.cfg.train.epochs:
            s.stopped = True
        patience = s.trainer.cfg.train.patience
        if not s.stopped and patience and s.best["epoch"] is not None and epoch - s.best["epoch"] >= patience:
            s.stopped = True
        return s.stopped

    def _epoch(self, live: list[_State], epoch: int) -> list[dict]:
        """One epoch of every live member, step t of each in turn, with its own generator state."""
        batches = [iter(s.trainer.batches(epoch)) for s in live]
        sums = [dict() for _ in live]
        faces = [0] * len(live)
        seconds = [0.0] * len(live)
        pending = list(range(len(live)))
        for s in live:
            s.model.train()
        while pending:
            still = []
            for i in pending:
                s = live[i]
                t0 = time.perf_counter()
                torch.set_rng_state(s.rng)
                item = next(batches[i], None)
                if item is None:
                    s.rng = torch.get_rng_state()
                    seconds[i] += time.perf_counter() - t0
                    continue
                inputs, y, known, b = item
                s.opt.zero_grad(set_to_none=True)
                losses = s.step(inputs, y, known)
                losses["loss"].backward()
                s.opt.step()
                s.rng = torch.get_rng_state()
                faces[i] += b
                for k, v in losses.items():
                    sums[i][k] = sums[i].get(k, 0.0) + float(v.detach()) * b
                seconds[i] += time.perf_counter() - t0
                still.append(i)
            pending = still
        rows = []
        for i, s in enumerate(live):
            row = {"epoch": epoch + 1, "stage": "all", "stage_epoch": epoch + 1, "lr": s.opt.param_groups[0]["lr"]}
            row.update({k: v / max(faces[i], 1) for k, v in sums[i].items()})
            row.update(val_f1=float("nan"), val_auc=float("nan"), seconds=seconds[i], faces=faces[i])
            rows.append(row)
        return rows

    def _end_epoch(self, s: _State, epoch: int, row: dict) -> None:
        """What a run alone does after an epoch: schedule, validation, best weights, hook, history."""
        tr = s.trainer
        s.sched.step()
        torch.set_rng_state(s.rng)  # nothing below draws, but a hook may; keep the member's stream its own
        val = tr.validate()
        row.update(val_f1=val.mean_f1, val_auc=val.mean_auc)
        if tr.cfg.train.select == "val" and val.mean_f1 > s.best["val_f1"]:
            s.best = {"epoch": epoch + 1, "val_f1": val.mean_f1}
            s.best_head = s.head_state()
        if tr.on_epoch is not None:
            tr.on_epoch(tr, row)
        s.rng = torch.get_rng_state()
        s.history.append(row)
        tr.write_history(s.history)

    # --- the batch checkpoint ----------------------------------------------------------------------
    def _batch_doc(self, index: int) -> dict:
        return {"checkpoint": str(self.checkpoint.resolve()), "members": len(self.members), "index": index,
                "identity": self.identity}

    def _save(self, states: list[_State], epochs_done: int) -> None:
        tensors, rng, members = {}, {}, []
        for i, s in enumerate(states):
            tensors.update({f"{i}/head/{k}": v for k, v in s.model.state_dict().items() if k.startswith(HEAD_PARTS)})
            if s.best_head is not None:
                tensors.update({f"{i}/best/{k}": v for k, v in s.best_head.items()})
            optim, optim_doc = optimizer_to_flat(s.opt.state_dict())
            tensors.update({f"{i}/{k}": v for k, v in optim.items()})
            rng[f"{i}/torch"] = s.rng
            if s.trainer.flip is not None:
                rng[f"{i}/flip"] = s.trainer.flip.generator.get_state()
            hook = s.member.on_epoch
            members.append({"history": s.history, "best": s.best, "stopped": s.stopped, "optimizer": optim_doc,
                            "scheduler": s.sched.state_dict(), "hook_rows": getattr(hook, "rows", None)})
        save_checkpoint(self.checkpoint, tensors, {"kind": "member-batch", "identity": self.identity,
                                                   "epochs_done": epochs_done, "members": members}, rng=rng)

    def _restore(self, states: list[_State], ckpt) -> int:
        for i, (s, doc) in enumerate(zip(states, ckpt.doc["members"])):
            mine = {k[len(f"{i}/head/"):]: v for k, v in ckpt.model.items() if k.startswith(f"{i}/head/")}
            s.model.load_state_dict(mine, strict=False)
            best = {k[len(f"{i}/best/"):]: v for k, v in ckpt.model.items() if k.startswith(f"{i}/best/")}
            s.best_head = best or None
            optim = {k[len(f"{i}/"):]: v for k, v in ckpt.model.items() if k.startswith(f"{i}/optim/")}
            s.opt.load_state_dict(optimizer_from_flat(optim, doc["optimizer"]))
            s.sched.load_state_dict(doc["scheduler"])
            s.rng = ckpt.rng[f"{i}/torch"]
            if s.trainer.flip is not None:
                s.trainer.flip.generator.set_state(ckpt.rng[f"{i}/flip"])
            s.history, s.best, s.stopped = doc["history"], doc["best"], doc["stopped"]
            hook = s.member.on_epoch
            if doc.get("hook_rows") is not None and hasattr(hook, "rows"):
                hook.rows[:] = doc["hook_rows"]
        return int(ckpt.doc["epochs_done"])

    # --- the end -----------------------------------------------------------------------------------
    def _finish(self, s: _State) -> dict:
        """The member's best (or last) weights saved as a run alone saves them, then its test scores."""
        tr = s.trainer
        if tr.cfg.train.select == "val" and s.best_head is not None:
            last = s.head_state()
            s.model.load_state_dict(s.best_head, strict=False)
            save_checkpoint(tr.run_dir / runs.BEST, s.model.state_dict(),
                            model_document(s.model, tr.cfg, tr.graph, tr.store.roi_size,
                                           {"epoch": s.best["epoch"], "selected": "val"}))
            s.model.load_state_dict(last, strict=False)
        metrics = tr.finish(s.history, s.best)
        if s.member.on_finish is not None:
            s.member.on_finish(tr, metrics)
        return metrics


def train_members(members: Sequence[Member], checkpoint: str | Path, quiet: bool = True,
                  echo: Callable[[str], None] = print) -> list[dict]:
    """Train ``members`` as one batch (see :class:`MemberBatch`); their test metrics in order."""
    return MemberBatch(members, checkpoint, quiet=quiet, echo=echo).run()
