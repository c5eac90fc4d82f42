"""popfusion: predict how popular a social media post will be."""

from popfusion.data.schema import DataError
from popfusion.data.table import load

__version__ = "0.1.0"
__all__ = ["DataError", "__version__", "load"]
