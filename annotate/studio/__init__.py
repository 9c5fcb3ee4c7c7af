"""The labeling loop with Label Studio: push scored claims, pull human labels, serve the model as an ML backend.

`convert` is the only module that knows Label Studio's formats, `client` the only one that uses the SDK,
and `backend` the web server; model code never imports any of them.
"""

from .client import (
    PullReport,
    PushReport,
    StudioConfig,
    load_config,
    pull_labels,
    push_run,
)

__all__ = ["PullReport", "PushReport", "StudioConfig", "load_config", "pull_labels", "push_run"]
