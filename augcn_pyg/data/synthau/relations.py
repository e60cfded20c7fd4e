"""AU intensity time courses of one video: the relation model of SynthAU.

``realistic``: a video of a task is a sequence of *episodes* (time is normalised to [0, 1) so the
statistics do not depend on the number of frames). Each episode shows one prototype of the task
(:mod:`.prototypes`, weights and member probabilities fitted in :mod:`.tuned`): every member AU joins
the episode with its probability, gets a peak intensity ``A ~ U(amp_low, amp_high)`` and follows the
episode's envelope (cosine onset, apex plateau, cosine offset), so AUs of one display rise and fall
together. On top: *spontaneous* AUs (short bumps at random times, independent of everything) and
*dropouts* (a member briefly relaxes). Intensity is 0..5; present = intensity >= 2.

``independent``: every AU follows its own smoothed Gaussian process ``z`` (unit variance) and is present
when ``z > q`` with ``P(z > q)`` = the preset's rate: exact marginal rates, smooth time courses, and no
dependence between AUs.

Both return ``(F, A)`` float32 intensities over :data:`.prototypes.RENDERED_AUS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from augcn_pyg.data.synthau import tuned
from augcn_pyg.data.synthau.prototypes import PROTOTYPES, RENDERED_AUS, TARGET_RATES, TASKS, Prototype

PRESENT = 2.0  # intensity at which an AU counts as present (the field's rule)
AU_COLUMN = {au: i for i, au in enumerate(RENDERED_AUS)}


@dataclass(frozen=True)
class TimeCourse:
    """Shape of episodes, in fractions of the video's length."""

    duration: tuple[float, float] = (0.45, 0.8)
    gap: tuple[float, float] = (0.0, 0.12)
    lead_in: tuple[float, float] = (0.0, 0.3)  # the coded segment starts inside an episode
    ramp: float = 0.2  # onset and offset, each a fraction of the episode
    amp: tuple[float, float] = (2.4, 5.0)
    spontaneous_per_video: float = 0.25  # Poisson mean, per AU
    spontaneous_duration: tuple[float, float] = (0.06, 0.18)
    spontaneous_amp: tuple[float, float] = (1.0, 3.6)
    dropout_prob: float = 0.15  # per (episode, member)
    dropout_duration: tuple[float, float] = (0.04, 0.12)
    dropout_depth: float = 0.25  # intensity multiplier at the bottom of a dip
    smooth: float = 0.06  # independent preset: Gaussian smoothing width


TIME_COURSE = TimeCourse()


def _hann_bump(u: np.ndarray, centre: float, width: float) -> np.ndarray:
    """1 at ``centre`` falling to 0 at ``centre +- width/2`` (raised cosine)."""
    x = np.clip((u - centre) / (width / 2), -1, 1)
    return 0.5 * (1 + np.cos(np.pi * x))


def _envelope(u: np.ndarray, start: float, duration: float, ramp: float) -> np.ndarray:
    """Trapezoid with cosine ramps: 0 before ``start``, 1 at the apex, 0 after ``start + duration``."""
    r = max(ramp * duration, 1e-6)
    rise = np.clip((u - start) / r, 0, 1)
    fall = np.clip((start + duration - u) / r, 0, 1)
    return 0.5 * (1 - np.cos(np.pi * np.minimum(rise, fall)))


def frame_times(n_frames: int) -> np.ndarray:
    return (np.arange(n_frames) + 0.5) / n_frames


def sample_timeline(rng: np.random.Generator, n_frames: int, tc: TimeCourse = TIME_COURSE):
    """Episodes of one video: ``(episode (F,) int, -1 in gaps; envelope (F,) float; n_episodes)``."""
    u = frame_times(n_frames)
    episode = np.full(n_frames, -1, dtype=np.int64)
    envelope = np.zeros(n_frames)
    t = -rng.uniform(*tc.lead_in)
    k = 0
    while t < 1.0:
        d = rng.uniform(*tc.duration)
        env = _envelope(u, t, d, tc.ramp)
        inside = (u >= t) & (u < t + d)
        episode[inside] = k
        envelope[inside] = env[inside]
        t += d + rng.uniform(*tc.gap)
        k += 1
    return episode, envelope, k


def member_intensities(rng, episode, envelope, n_episodes, n_aus, tc: TimeCourse = TIME_COURSE):
    """(F, n_aus) intensity each AU would have if it were a member of the episode it is in."""
    u = frame_times(len(episode))
    amp = rng.uniform(*tc.amp, size=(max(n_episodes, 1), n_aus))
    out = np.where(episode[:, None] >= 0, amp[np.maximum(episode, 0)] * envelope[:, None], 0.0)
    drop = rng.random((max(n_episodes, 1), n_aus)) < tc.dropout_prob
    centres = rng.random((max(n_episodes, 1), n_aus))
    widths = rng.uniform(*tc.dropout_duration, size=(max(n_episodes, 1), n_aus))
    for e, a in zip(*np.nonzero(drop)):
        in_ep = episode == e
        if not in_ep.any():
            continue
        lo, hi = u[in_ep][0], u[in_ep][-1]
        c = lo + centres[e, a] * (hi - lo)
        dip = 1 - (1 - tc.dropout_depth) * _hann_bump(u, c, widths[e, a])
        out[:, a] *= np.where(in_ep, dip, 1.0)
    return out


def spontaneous_intensities(rng, n_frames, n_aus, tc: TimeCourse = TIME_COURSE) -> np.ndarray:
    """(F, n_aus) short independent bumps, Poisson-many per AU."""
    u = frame_times(n_frames)
    out = np.zeros((n_frames, n_aus))
    counts = rng.poisson(tc.spontaneous_per_video, size=n_aus)
    for a in range(n_aus):
        for _ in range(counts[a]):
            c, w, h = rng.random(), rng.uniform(*tc.spontaneous_duration), rng.uniform(*tc.spontaneous_amp)
            out[:, a] = np.maximum(out[:, a], h * _hann_bump(u, c, w))
    return out


@dataclass(frozen=True)
class RelationModel:
    """Fitted task mixtures of one preset: ``weights[task]`` over ``prototypes + [neutral]``."""

    preset: str
    prototypes: tuple[Prototype, ...]
    weights: dict[str, np.ndarray]  # task -> (K_task + 1,) probabilities, last = neutral
    members: dict[str, dict[int, float]]  # prototype name -> AU -> probability (fitted + extras)

    def task_prototypes(self, task: str) -> list[Prototype]:
        return [p for p in self.prototypes if p.task == task]


def load_model(preset: str) -> RelationModel:
    """The preset's relation model with the fitted parameters of :mod:`.tuned` (priors if absent)."""
    protos = PROTOTYPES[preset]
    fitted = tuned.TUNED.get(preset, {})
    weights, members = {}, {}
    for task in TASKS:
        names = [p.name for p in protos if p.task == task] + ["neutral"]
        w = fitted.get("weights", {}).get(task)
        w = np.array([w[n] for n in names], dtype=float) if w else np.r_[np.ones(len(names) - 1), 0.3]
        weights[task] = w / w.sum()
    for p in protos:
        m = dict(fitted.get("members", {}).get(p.name, p.members))
        members[p.name] = {int(a): float(v) for a, v in m.items()} | dict(p.extras)
    return RelationModel(preset, protos, weights, members)


def sample_realistic(rng: np.random.Generator, model: RelationModel, task: str, n_frames: int,
                     tc: TimeCourse = TIME_COURSE) -> np.ndarray:
    """(F, A) intensities of one video of ``task`` under the prototype-episode model."""
    n_aus = len(RENDERED_AUS)
    episode, envelope, n_ep = sample_timeline(rng, n_frames, tc)
    protos = model.task_prototypes(task)
    choice = rng.choice(len(protos) + 1, size=max(n_ep, 1), p=model.weights[task])
    member = np.zeros((max(n_ep, 1), n_aus), dtype=bool)
    draws = rng.random((max(n_ep, 1), n_aus))
    for e, k in enumerate(choice):
        if k < len(protos):
            for au, p in model.members[protos[k].name].items():
                member[e, AU_COLUMN[au]] = draws[e, AU_COLUMN[au]] < p
    full = member_intensities(rng, episode, envelope, n_ep, n_aus, tc)
    in_member = np.where(episode[:, None] >= 0, member[np.maximum(episode, 0)], False)
    spont = spontaneous_intensities(rng, n_frames, n_aus, tc)
    return np.clip(np.maximum(np.where(in_member, full, 0.0), spont), 0, 5).astype(np.float32)


def independent_rates(preset: str) -> np.ndarray:
    """(A,) per-AU rates: the preset's targets, other rendered AUs from the other preset."""
    rates = {}
    for name in [n for n in TARGET_RATES if n != preset] + [preset]:
        rates |= TARGET_RATES[name]
    return np.array([rates.get(au, 0.05) for au in RENDERED_AUS])


def sample_independent(rng: np.random.Generator, rates: np.ndarray, n_frames: int,
                       tc: TimeCourse = TIME_COURSE) -> np.ndarray:
    """(F, A) intensities, each AU an independent thresholded smooth Gaussian process."""
    sigma = max(tc.smooth * n_frames, 0.5)
    half = int(np.ceil(4 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    kernel /= np.sqrt((kernel ** 2).sum())  # unit variance after filtering white noise
    noise = rng.standard_normal((len(rates), n_frames + 2 * half))
    z = np.stack([np.convolve(row, kernel, mode="valid") for row in noise], axis=1)  # (F, A)
    q = ndtri(1 - np.clip(rates, 1e-6, 1 - 1e-6))  # P(z > q) = rate
    return np.clip(PRESENT + 1.5 * (z - q), 0, 5).astype(np.float32)


def sample_video(rng: np.random.Generator, preset: str, relations: str, task: str, n_frames: int,
                 model: RelationModel | None = None) -> np.ndarray:
    """(F, A) intensities of one video (``relations``: "realistic" or "independent")."""
    if relations == "independent":
        return sample_independent(rng, independent_rates(preset), n_frames)
    return sample_realistic(rng, model or load_model(preset), task, n_frames)


RELATIONS = ("realistic", "independent")
