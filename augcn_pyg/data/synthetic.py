"""SynthAU entry point: ``generate_synthau(out_dir, protocol="bp4d", relations="realistic", subjects=24,
frames_per_video=60, seed=0, difficulty="medium", workers=1, ...)``.

The implementation lives in :mod:`augcn_pyg.data.synthau` (one module per job); see ``docs/synthau.md``.
"""
from augcn_pyg.data.synthau import (  # noqa: F401
                      DIFFICULTIES,
                      KNOBS,
                      RELATIONS,
                      Conditions,
                      FaceRenderer,
                      conditions,
                      generate_synthau,
                      render_gallery,
                      sample_labels,
                      subject_ids,
)

__all__ = ["generate_synthau", "sample_labels", "render_gallery", "subject_ids", "FaceRenderer",
           "Conditions", "conditions", "DIFFICULTIES", "KNOBS", "RELATIONS"]
