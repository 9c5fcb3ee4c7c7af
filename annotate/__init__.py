"""annotate: who claims what in news and analysis articles, and how the author treats each claim.

    import annotate
    ann = annotate.load()
    doc = ann("Officials claimed the strike hit a depot. This seems far-fetched.", id="a", outlet="X")
    rows = doc.to_rows()          # output-schema rows, as `annotate score` writes them
"""

from importlib.metadata import PackageNotFoundError, version

from .annotator import Annotator, load
from .model import Claim, Document, Source, Span

try:
    __version__ = version("annotate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Annotator", "Claim", "Document", "Source", "Span", "load", "__version__"]
