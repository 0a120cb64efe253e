"""The quarterly QA report: `GET /v1/reports/quarterly` and `qaloop report` (issue 7).

`content.py` builds the report (pure) from `model.py`'s inputs, one section per module in
`sections/`, with `figures.py` formatting every number under the publication rule and
`labels.py` the words and dates; `charts.py` draws its SVG charts, `render.py` turns it into
HTML or PDF, `inputs.py` loads its snapshot, `api.py` serves it, `command.py` is the CLI.
`export.py` writes any table as CSV or XLSX and `downloads.py` serves the report's tables so;
`suppression.py` is the secondary suppression of breakdowns.
"""

from .api import router
from .downloads import router as downloads_router

router.include_router(downloads_router)  # the tables as CSV and XLSX (`downloads.py`)

__all__ = ["router"]
