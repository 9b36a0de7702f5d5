"""A faithful local simulator of the providers' face comparison services. Pure Python, no Django.

What moto and LocalStack are for AWS: it speaks the legacy ``POST /face/idcardcompare``
protocol exactly (JSON and multipart modes, the multi-use signature checked from the server's
side) and, on the same port, FaceID ``ImageRecognitionV2`` of Tencent Cloud API 3.0
(``POST /``, TC3-HMAC-SHA256, ``Encryption``; :mod:`.protocols.faceid`), and Alibaba Cloud's
Cloudauth ``ContrastFaceVerify`` (``POST /`` with ``x-acs-*`` headers, ACS3-HMAC-SHA256;
:mod:`.protocols.aliyun`), answers deterministically from a registry of people with synthetic portraits, has
magic ID numbers for every outcome (:mod:`.magic`), injects faults on demand
(:mod:`.faults`) and records every call in a ledger (:mod:`.ledger`). Its similarity is a
perceptual score, NOT face recognition (:mod:`.similarity`). It signs, verifies and answers
codes with its own modules, never with the app's provider code it is there to check
(``tests/simulator/test_independence.py``).

In-process::

    from face_idcard.simulator import SimulatorServer, SimulatorConfig
    with SimulatorServer(SimulatorConfig(latency="normal:50,10", qps=20)) as sim:
        ...  # point a client at sim.base_url with DEFAULT_APPID / _SECRET_ID / _SECRET_KEY

From a shell: ``python -m face_idcard.simulator --port 8701``.
"""

from __future__ import annotations

from .config import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, SimulatorConfig
from .ledger import CallRecord, Ledger
from .outcomes import Outcome
from .server import SimulatorServer

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_SECRET_ID",
    "DEFAULT_SECRET_KEY",
    "CallRecord",
    "Ledger",
    "Outcome",
    "SimulatorConfig",
    "SimulatorServer",
]
