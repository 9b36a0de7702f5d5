"""``python -m face_idcard.simulator``: run the simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from . import faults
from .config import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    FACEID_BUSINESS_ANSWERS,
    SimulatorConfig,
)
from .registry import RegistryError
from .server import RemoteControlRefused, SimulatorServer

ENV_PREFIX = "FACE_IDCARD_SIMULATOR_"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m face_idcard.simulator",
        description=(
            "A local simulator of Tencent's idcardcompare API and FaceID ImageRecognitionV2 "
            "(not face recognition)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--allow-remote-control",
        action="store_true",
        help=(
            "allow a --host beyond loopback, which exposes the unauthenticated control "
            "endpoints (/__simulator__/: call ledger, stats, reset) to that network"
        ),
    )
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--appid", default=os.environ.get(ENV_PREFIX + "APPID", DEFAULT_APPID))
    parser.add_argument(
        "--secret-id", default=os.environ.get(ENV_PREFIX + "SECRET_ID", DEFAULT_SECRET_ID)
    )
    parser.add_argument(
        "--secret-key",
        default=os.environ.get(ENV_PREFIX + "SECRET_KEY", DEFAULT_SECRET_KEY),
        help="prefer the environment variable: a command line is visible to other users",
    )
    parser.add_argument("--bucket", default=os.environ.get(ENV_PREFIX + "BUCKET", ""))
    parser.add_argument(
        "--registry", help="a JSON file or a directory of people (default: demo people)"
    )
    latency = parser.add_mutually_exclusive_group()
    latency.add_argument("--latency-ms", type=float, help="fixed added latency, milliseconds")
    latency.add_argument(
        "--latency", help="normal:MEAN,SD | uniform:LOW,HIGH | exponential:MEAN (ms)"
    )
    parser.add_argument(
        "--error-rate",
        action="append",
        default=[],
        metavar="CLASS=RATE",
        help=f"injected error rate, repeatable; CLASS in {', '.join(faults.FAULT_CLASSES)}",
    )
    parser.add_argument("--hang-rate", type=float, default=0.0)
    parser.add_argument(
        "--qps", type=float, help="account quota, requests per second (answers 15 above)"
    )
    parser.add_argument(
        "--precheck-qps",
        type=int,
        default=5,
        help="FaceID DetectAIFakeFaces quota, calls per second (0: unlimited)",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault generator")
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="url mode: also download from loopback and private addresses (local tests)",
    )
    parser.add_argument(
        "--faceid-private-key",
        metavar="PEM_FILE",
        default=os.environ.get(ENV_PREFIX + "FACEID_PRIVATE_KEY"),
        help="RSA private key (PEM) that opens FaceID Encryption keys wrapped with its public key",
    )
    parser.add_argument(
        "--faceid-business-answer",
        choices=FACEID_BUSINESS_ANSWERS,
        default="result",
        help="FaceID FailedOperation.* in Response.Result (default) or as Response.Error",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    latency: float | str = 0.0
    if args.latency_ms is not None:
        latency = args.latency_ms
    elif args.latency:
        latency = args.latency
    error_rates = dict(faults.parse_error_rate(item) for item in args.error_rate)
    private_key = None
    if args.faceid_private_key:
        try:
            with open(args.faceid_private_key, "rb") as pem:
                private_key = pem.read()
        except OSError as exc:
            raise ValueError(f"cannot read the FaceID private key: {exc.strerror}") from exc
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        appid=args.appid,
        secret_id=args.secret_id,
        secret_key=args.secret_key,
        bucket=args.bucket,
        registry=args.registry,
        latency=latency,
        error_rates=error_rates,
        hang_rate=args.hang_rate,
        qps=args.qps,
        precheck_qps=args.precheck_qps or None,
        seed=args.seed,
        url_allow_private=args.allow_private_urls,
        faceid_private_key=private_key,
        faceid_business_answer=args.faceid_business_answer,
        allow_remote_control=args.allow_remote_control,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        server = SimulatorServer(config)
    except (ValueError, RegistryError) as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        server.start()
    except RemoteControlRefused as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 1
    secret = config.secret_key if config.uses_default_secret else "(as configured, not shown)"
    print(f"face_idcard simulator listening on {server.base_url}", flush=True)
    print("  protocols  POST /face/idcardcompare (legacy), POST / (FaceID V2)", flush=True)
    print("             POST / with x-acs-* headers (Cloudauth ContrastFaceVerify)", flush=True)
    print(f"  appid      {config.appid}", flush=True)
    print(f"  secret id  {config.secret_id}", flush=True)
    print(f"  secret key {secret}", flush=True)
    print(f"  registry   {len(server.registry)} people; this is NOT face recognition", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    print("face_idcard simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
