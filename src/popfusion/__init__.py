"""popfusion: predict how popular a social media post will be."""

import os

# OpenMP threads (LightGBM, CatBoost, torch) sleep at a barrier instead of spinning: on a
# machine other jobs share, a spinning thread holds a core the thread it waits for needs.
# benchmarks/threads.py: a LightGBM fit beside one busy process took 77 s spinning and 42 s
# passive on 2 cores (alone: 24.0 against 28.7 s). Set before any OpenMP runtime starts;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from popfusion.data.schema import DataError
from popfusion.data.table import load

__version__ = "0.1.0"
__all__ = ["DataError", "__version__", "load"]
