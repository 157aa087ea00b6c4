"""``fusejit bench``: fused vs unfused fusejit against NumPy and its peers, on the memory roofline.

One command measures nine workloads (:mod:`.workloads`) in every variant (:mod:`.variants`,
peers in :mod:`.peers`), checking each answer against NumPy before timing it, and renders a
Markdown table (:mod:`.report`), a JSON record (schema: ``bench/schema.json``) and a PNG chart
(:mod:`.plot`). From Python::

    from fusejit.bench import Config, run_suite, render_markdown
    record = run_suite(Config(workloads=["softmax"], quick=True))
    print(render_markdown(record))

Peers are optional (``pip install 'fusejit[bench]'``; torch: install its CPU wheel yourself).
"""

from .report import render_markdown
from .suite import Config, run_suite
from .variants import Unsupported, Variant
from .workloads import WORKLOADS, Workload

__all__ = ["WORKLOADS", "Config", "Unsupported", "Variant", "Workload", "render_markdown", "run_suite"]
