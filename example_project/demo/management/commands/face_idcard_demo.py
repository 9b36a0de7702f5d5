"""``manage.py face_idcard_demo``: verifications end to end against the local simulator.

Starts the provider simulator in this process on a free port and a real Celery worker in a
thread (the in-memory transport unless ``REDIS_URL`` is set), submits a handful of attempts that
show each kind of outcome through ``face_idcard.services.submit``, waits for the pipeline to
finish them, and prints what was stored: masked identity, status, decision, score, code and
its meaning in both languages, and what the provider's ledger says was billed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.test import override_settings
from django.utils import timezone, translation

from face_idcard import services
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import SimulatorConfig, SimulatorServer, magic
from face_idcard.simulator.registry import demo_people
from face_idcard.states import is_terminal


@dataclass(frozen=True)
class Scenario:
    title: str
    number: str
    name: str
    photo: bytes


class Command(BaseCommand):
    help = "Run face verifications end to end against the bundled simulator."

    def handle(self, *args: Any, **options: Any) -> None:
        from celery.contrib.testing.worker import start_worker
        from example_site.celery import app

        app.conf.broker_transport_options = {"polling_interval": 0.05}
        zhang, li = demo_people()[:2]
        scenarios = [
            Scenario(
                "own photo of a registered person",
                zhang.idcard_number,
                zhang.idcard_name,
                zhang.photo_bytes,
            ),
            Scenario(
                "someone else's photo", zhang.idcard_number, zhang.idcard_name, li.photo_bytes
            ),
            Scenario("a score near the threshold", magic.REVIEW, "王小明", li.photo_bytes),
            Scenario("name does not match the number", magic.NAME_MISMATCH, "赵六", li.photo_bytes),
            Scenario("provider fails twice, then answers", magic.flaky(2), "钱七", li.photo_bytes),
            Scenario("provider account in arrears", magic.ARREARS, "孙八", li.photo_bytes),
        ]

        with (
            SimulatorServer(SimulatorConfig(latency=30)) as simulator,
            override_settings(
                FACE_IDCARD={
                    **settings.FACE_IDCARD,
                    "SIMULATOR_URL": simulator.base_url,
                    "RETRY_BACKOFF_BASE": 0.2,
                    "RETRY_BACKOFF_MAX": 1.0,
                    "MAX_ATTEMPTS_PER_ID_PER_DAY": 1000,
                    "MAX_ATTEMPTS_PER_USER_PER_DAY": 1000,
                }
            ),
        ):
            self.stdout.write(f"simulator listening on {simulator.base_url} (not face recognition)")
            self.show_refused_input()
            with start_worker(
                app,
                pool="solo",
                concurrency=1,
                perform_ping_check=False,
                loglevel="WARNING",
                hostname="demo@localhost",
            ):
                self.stdout.write("Celery worker started; submitting attempts\n")
                attempts = [
                    (
                        scenario,
                        services.submit(
                            idcard_number=scenario.number,
                            idcard_name=scenario.name,
                            image=scenario.photo,
                            consent_at=timezone.now(),
                            external_reference=f"demo-{index}",
                        ),
                    )
                    for index, scenario in enumerate(scenarios, start=1)
                ]
                self.wait([attempt.pk for _, attempt in attempts])
            for scenario, attempt in attempts:
                self.show(scenario, VerificationAttempt.objects.get(pk=attempt.pk))
            stats = simulator.ledger.stats()
            self.stdout.write(
                f"\nprovider ledger: {stats['total']} calls, {stats['billable']} billable "
                f"for {len(attempts)} attempts; codes {stats['by_code']}"
            )

    def show_refused_input(self) -> None:
        """Bad input is refused before anything is stored or sent, in both languages."""
        before = VerificationAttempt.objects.count()
        for language in ("zh-hans", "en"):
            with translation.override(language):
                try:
                    services.submit(
                        idcard_number="110110199909090909",  # the API page's placeholder: bad check digit
                        idcard_name="张三",
                        image=demo_people()[0].photo_bytes,
                        consent_at=timezone.now(),
                    )
                except ValidationError as exc:
                    self.stdout.write(f"refused [{language}]: {' '.join(exc.messages)}")
        stored = VerificationAttempt.objects.count() - before
        self.stdout.write(f"attempts stored for the refused input: {stored}\n")

    def wait(self, ids: list[Any], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = VerificationAttempt.objects.filter(pk__in=ids).values_list(
                "status", flat=True
            )
            if all(is_terminal(status) for status in statuses):
                return
            time.sleep(0.1)
        raise SystemExit("the demo attempts did not finish within a minute")

    def show(self, scenario: Scenario, attempt: VerificationAttempt) -> None:
        from django.utils import translation

        from face_idcard.backends import get_backend
        from face_idcard.reasons import user_message

        info = get_backend(attempt.backend).describe(attempt.error_code)
        with translation.override("zh-hans"):
            told_zh = user_message(attempt.reason)
        with translation.override("en"):
            told_en = user_message(attempt.reason)
        score = "-" if attempt.similarity is None else f"{attempt.similarity:.1f}"
        self.stdout.write(
            f"\n{scenario.title}\n"
            f"  {attempt.idcard_number_masked} {attempt.idcard_name_masked}: "
            f"status {attempt.status}, decision {attempt.decision or '-'}, similarity {score}, "
            f"threshold {attempt.threshold if attempt.threshold is not None else '-'}, "
            f"provider calls {attempt.provider_calls}\n"
            f"  code {attempt.error_code} ({info.error_class.value}): {info.zh_hans} / {info.en}\n"
            f"  reason {attempt.reason}: {told_zh} / {told_en}"
        )
