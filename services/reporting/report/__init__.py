"""The quarterly QA report: `GET /v1/reports/quarterly` and `qaloop report` (issue 7).

`content.py` builds the report (pure) from `model.py`'s inputs, one section per module in
`sections/`, with `figures.py` formatting every number under the publication rule and
`labels.py` the words and dates; `charts.py` draws its SVG charts, `render.py` turns it into
HTML or PDF, `inputs.py` loads its snapshot, `api.py` serves it, `command.py` is the CLI.
"""

from .api import router

__all__ = ["router"]
