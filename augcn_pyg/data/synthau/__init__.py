"""SynthAU: rendered faces whose AUs follow a known relation model, written in native dataset layouts.

* :mod:`.effects` -- what each AU does (landmark displacements, appearance cues), as data
* :mod:`.face` -- the canonical 68-point face and the identities drawn around it
* :mod:`.prototypes`, :mod:`.tuned` -- tasks, AU prototypes and their fitted parameters, as data
* :mod:`.relations` -- intensity time courses of a video (realistic / independent)
* :mod:`.plan` -- subject ids, videos, seeds; :func:`sample_labels` draws labels without rendering
* :mod:`.render` -- the face renderer and the imaging conditions (difficulty)
* :mod:`.writer` -- native-layout output; :func:`generate_synthau`
* :mod:`.gallery` -- the AU gallery picture
* :mod:`.check` -- the paper's graph rule and agreement with Table 1
* :mod:`.occlusion` -- missing local evidence: occluders, weak AUs, cue strength, presets, the manifest
* :mod:`.oracles` -- local and relation oracle bounds from labels and manifest, the relation signal

See ``docs/synthau.md``.
"""
from augcn_pyg.data.synthau.gallery import render_gallery
from augcn_pyg.data.synthau.plan import sample_labels, subject_ids
from augcn_pyg.data.synthau.relations import RELATIONS
from augcn_pyg.data.synthau.render import DIFFICULTIES, KNOBS, Conditions, FaceRenderer, conditions
from augcn_pyg.data.synthau.writer import generate_synthau

__all__ = ["generate_synthau", "sample_labels", "render_gallery", "subject_ids", "FaceRenderer",
           "Conditions", "conditions", "DIFFICULTIES", "KNOBS", "RELATIONS"]
