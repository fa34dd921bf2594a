"""stylize: real-time style transfer for webcams and video."""
__version__ = "0.1.0"

import os as _os

# OpenMP threads that spin while waiting steal the cores from the pipeline's
# other threads (a 32x40 frame took 1.4 s instead of 20 ms on a busy 2-core
# machine). Must be set before torch is first imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
