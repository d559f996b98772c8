"""Suite-wide settings.

The joint model is fitted by its Laplace approximation in the suite (NUTS, the
default of ``crowdcensus run``, is exercised by the tests that ask for it:
``tests/synthesis``): ``CROWDCENSUS_INFERENCE`` is inherited by the commands
the tests run in subprocesses too. JAX's compilation cache goes to the temporary
folder, never to the user's home.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CROWDCENSUS_INFERENCE", "laplace")
os.environ.setdefault("CROWDCENSUS_JAX_CACHE",
                      os.path.join(tempfile.gettempdir(), "crowdcensus-test-jax-cache"))
