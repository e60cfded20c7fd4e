"""The relation model's structure, as data: elicitation tasks and the AU prototypes each one mixes.

A *prototype* is a facial display typical of a task's emotion (a Duchenne smile during amusement, brow
raise and lip part at a startle, a lip press during embarrassment...). Its ``members`` map an AU to the
prior probability that the AU takes part in one episode of the display; :mod:`.tuned` holds the fitted
probabilities and task mixing weights (written by ``benchmarks/tune_synthau.py``), this module only says
which AUs a prototype may use. ``extras`` are AUs outside the preset's protocol that the display shows on
the face (AU25/26 in a BP4D laugh) with a fixed probability: they are rendered but never tuned.

Every task also has a ``neutral`` prototype without members (a stretch of the video where only
spontaneous AUs happen); its weight is tuned like the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: AUs the renderer animates (the union of both protocols).
RENDERED_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17, 23, 24, 25, 26)

#: BP4D's eight elicitation tasks (Zhang et al. 2014), T1..T8.
TASKS: tuple[str, ...] = ("amusement", "sadness", "startle", "embarrassment", "fear", "pain", "anger",
                          "disgust")


@dataclass(frozen=True)
class Prototype:
    name: str
    task: str
    members: dict[int, float]
    extras: dict[int, float] = field(default_factory=dict)


def _p(name, task, members, extras=None) -> Prototype:
    return Prototype(name, task, dict(members), dict(extras or {}))


#: preset name -> prototypes (members restricted to the preset protocol's AUs).
PROTOTYPES: dict[str, tuple[Prototype, ...]] = {
    "bp4d": (
        _p("smile", "amusement", {6: .9, 7: .9, 10: .9, 12: .95, 14: .6, 17: .4}, {25: .3}),
        _p("laugh", "amusement", {1: .4, 2: .4, 6: .9, 7: .8, 10: .9, 12: .95, 14: .5}, {25: .9, 26: .7}),
        _p("sad", "sadness", {1: .7, 4: .6, 7: .4, 15: .6, 17: .7}),
        _p("wistful_smile", "sadness", {6: .6, 7: .7, 10: .7, 12: .7, 14: .6, 15: .5, 17: .6}),
        _p("startle", "startle", {1: .8, 2: .8, 4: .2, 7: .4, 10: .5}, {25: .8, 26: .5}),
        _p("relief_smile", "startle", {1: .4, 2: .5, 6: .7, 7: .7, 10: .8, 12: .9}, {25: .5}),
        _p("embarrassed_smile", "embarrassment",
           {6: .8, 7: .8, 10: .8, 12: .9, 14: .8, 15: .3, 17: .6, 23: .4, 24: .4}),
        _p("lip_press", "embarrassment", {7: .5, 14: .7, 17: .7, 23: .5, 24: .7}),
        _p("fear", "fear", {1: .7, 2: .6, 4: .6, 7: .6, 10: .5}, {25: .6}),
        _p("nervous_smile", "fear", {6: .7, 7: .8, 10: .8, 12: .8, 14: .7, 17: .5, 23: .4}),
        _p("pain", "pain", {4: .8, 6: .6, 7: .9, 10: .7, 14: .4, 17: .5, 23: .4, 24: .3}, {9: .4, 25: .3}),
        _p("grimace", "pain", {6: .8, 7: .8, 10: .8, 12: .7, 14: .7, 15: .5, 17: .7, 23: .3}),
        _p("anger", "anger", {4: .8, 7: .8, 10: .4, 17: .7, 23: .6, 24: .6}),
        _p("tense", "anger", {7: .7, 10: .5, 12: .4, 14: .7, 17: .7, 23: .6, 24: .5}),
        _p("disgust", "disgust", {4: .5, 6: .5, 7: .7, 10: .8, 15: .5, 17: .6}, {9: .8, 25: .3}),
        _p("disgust_smile", "disgust", {6: .7, 7: .8, 10: .9, 12: .7, 14: .6, 15: .5, 17: .6}),
    ),
    "disfa": (
        _p("smile", "amusement", {6: .7, 12: .95, 25: .6}, {7: .6, 10: .5, 14: .3}),
        _p("laugh", "amusement", {1: .3, 2: .3, 6: .9, 12: .95, 25: .95, 26: .7}, {7: .7, 10: .7}),
        _p("sad", "sadness", {1: .6, 4: .8}, {15: .6, 17: .6}),
        _p("wistful_smile", "sadness", {6: .4, 12: .7, 25: .4}, {7: .4, 10: .3}),
        _p("startle", "startle", {1: .7, 2: .7, 25: .8, 26: .6}, {7: .3}),
        _p("relief_smile", "startle", {6: .5, 12: .8, 25: .6, 26: .3}, {7: .4}),
        _p("embarrassed_smile", "embarrassment", {6: .5, 12: .8, 25: .5}, {14: .6, 17: .4, 24: .3}),
        _p("talk", "embarrassment", {25: .9, 26: .6}),
        _p("fear", "fear", {1: .5, 2: .4, 4: .7, 25: .6, 26: .3}, {7: .5, 10: .3}),
        _p("mouth_open", "fear", {25: .9, 26: .7}),
        _p("pain", "pain", {4: .8, 6: .5, 9: .5, 25: .4}, {7: .8, 10: .6}),
        _p("grimace", "pain", {6: .6, 12: .6, 25: .6}, {7: .6, 10: .6, 14: .5}),
        _p("anger", "anger", {4: .8, 9: .3, 25: .3}, {7: .8, 17: .6, 23: .5, 24: .5}),
        _p("frown", "anger", {4: .8}, {7: .5, 17: .5}),
        _p("disgust", "disgust", {4: .6, 9: .7, 25: .5, 26: .2}, {7: .6, 10: .8, 15: .4}),
        _p("disgust_talk", "disgust", {25: .8, 26: .6, 4: .3}, {10: .3}),
    ),
}

#: Target occurrence rates (fraction of frames with intensity >= 2), BP4D and DISFA as reported.
TARGET_RATES: dict[str, dict[int, float]] = {
    "bp4d": {1: .21, 2: .17, 4: .20, 6: .46, 7: .55, 10: .59, 12: .56, 14: .47, 15: .17, 17: .34, 23: .17,
             24: .15},
    "disfa": {1: .06, 2: .05, 4: .19, 6: .10, 9: .05, 12: .17, 25: .38, 26: .18},
}
